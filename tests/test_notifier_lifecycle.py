"""An incident's life at the notifier: repeats after ``repeat_after``, auto-resolve after
``resolve_after`` quiet, and never sending twice when Pub/Sub redelivers mid-send.

Real Firestore emulator for state, real Pub/Sub emulator for the tenant topic and dead
letters, the capture server for PagerDuty and Slack, a fake clock on the runtime.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
import pytest

from alertbridge.alert import Alert, AlertError, Resource
from alertbridge.notify.autoresolve import due, sweep
from alertbridge.notify.delivery import Backoff, ReceiverAnswer, Transport
from alertbridge.notify.handler import FIRED, SendInFlight, handle_alert
from alertbridge.pubsub import EMULATOR_ORDERING_BUCKETS, ordering_key_for
from alertbridge.runtime import Runtime
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants, TenantsFileError, loads_tenants
from alertbridge_dev.capture import Captured, CaptureServer, capture_env
from alertbridge_dev.worker import NotifyWorker
from conftest import ROOT, TopicWatch
from conftest import FakeClock as Clock

FAST = Backoff(attempts=4, base_s=0.001, cap_s=0.01, timeout_s=5)
T0 = datetime(2026, 11, 25, tzinfo=UTC)

TENANTS_YAML = """
tenants:
  - id: "4242"
    name: acme
    notify:
      auto_resolve:
        liveramp.subtask: 24h
      pagerduty:
        routing_key_env: ACME_PAGERDUTY_ROUTING_KEY
        min_severity: error
        repeat_after: 15m
      slack:
        webhook_url_env: ACME_SLACK_WEBHOOK_URL
        min_severity: warning
  - id: "5151"
    name: globex
    notify:
      pagerduty:
        routing_key_env: GLOBEX_PAGERDUTY_ROUTING_KEY
"""


@pytest.fixture
def tenants() -> Tenants:
    return loads_tenants(TENANTS_YAML)


def subtask_alert(
    clock: Clock, status: str = "firing", key: str = "job-1/2", n: int = 1, **kw: Any
) -> Alert:
    fields: dict[str, Any] = dict(
        id=f"{key}-{status}-{n}",
        dedup_key=key,
        tenant_id="4242",
        source="liveramp.subtask",
        status=status,
        severity="error" if status == "firing" else "info",
        summary=f"step {key} {status}",
        occurred_at=clock.at,
        received_at=clock.at,
        resource=Resource(kind="subtask_step", id=key, parent="job-1"),
        errors=[AlertError(code="99", message="step failed")],
    )
    fields.update(kw)
    return Alert(**fields)


def send(runtime: Runtime, a: Alert, **kw: Any) -> list[Any]:
    return handle_alert(
        runtime, a.to_json_bytes(), {"tenant_id": a.tenant_id}, "m", backoff=FAST, **kw
    )


def actions(capture: CaptureServer, path: str = "/v2/enqueue") -> list[str]:
    return [
        c.body["event_action"] if path == "/v2/enqueue" else c.body["text"].split(":")[0]
        for c in capture.requests
        if c.path.startswith(path)
    ]


# ---- repeat_after ----------------------------------------------------------------------------


def test_durations_accept_seconds_minutes_hours_and_refuse_other_spellings() -> None:
    base = TENANTS_YAML.replace("repeat_after: 15m", "repeat_after: {}")
    for text, seconds in [("90s", 90), ("15m", 900), ("4h", 14400), ("2d", 172800)]:
        pd = loads_tenants(base.format(text)).get("4242").notify.pagerduty  # type: ignore[union-attr]
        assert pd is not None and pd.repeat_after == timedelta(seconds=seconds)
    default = loads_tenants(TENANTS_YAML).get("4242").notify.slack  # type: ignore[union-attr]
    assert default is not None and default.repeat_after == timedelta(hours=4)
    with pytest.raises(TenantsFileError, match=r"tenants\[0\]\.notify\.pagerduty\.repeat_after"):
        loads_tenants(base.format("4 hours"))
    with pytest.raises(TenantsFileError, match=r"notify\.auto_resolve\.adobe\.flow"):
        loads_tenants(TENANTS_YAML.replace("liveramp.subtask: 24h", "adobe.flow: 24h"))


def test_a_failure_that_recurs_after_repeat_after_is_paged_again(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    send(runtime, subtask_alert(clock, n=1))
    clock.advance(timedelta(minutes=14))
    send(runtime, subtask_alert(clock, n=2))  # within 15 m: PagerDuty folds it, not sent
    clock.advance(timedelta(minutes=2))
    send(runtime, subtask_alert(clock, n=3))  # 16 m after the last page: paged again
    clock.advance(timedelta(minutes=14))
    send(runtime, subtask_alert(clock, n=4))  # 14 m after the repeat: not again
    assert actions(destinations) == ["trigger", "trigger"]
    assert actions(destinations, "/slack/") == ["ERROR"]  # slack keeps the 4 h default
    clock.advance(timedelta(hours=4))
    send(runtime, subtask_alert(clock, n=5))
    assert actions(destinations) == ["trigger", "trigger", "trigger"]
    assert actions(destinations, "/slack/") == ["ERROR", "ERROR"]


def test_a_redelivered_firing_alert_does_not_reopen_its_resolved_incident(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    fired = subtask_alert(clock)
    send(runtime, fired)
    clock.advance(timedelta(minutes=1))
    send(runtime, subtask_alert(clock, "resolved"))
    clock.advance(timedelta(hours=5))
    send(runtime, fired)  # the same message again, long after
    late = subtask_alert(clock, n=7, occurred_at=T0 - timedelta(minutes=5))
    send(runtime, late)  # an older run arriving late
    assert actions(destinations) == ["trigger", "resolve"]
    assert actions(destinations, "/slack/") == ["ERROR", "RESOLVED"]


# ---- auto-resolve ----------------------------------------------------------------------------


def test_a_quiet_incident_is_auto_resolved_once_and_the_resolve_reaches_on_call(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    clock: Clock,
    watch: Any,
) -> None:
    topic: TopicWatch = watch("alerts-4242")
    send(runtime, subtask_alert(clock))
    clock.advance(timedelta(hours=20))
    send(runtime, subtask_alert(clock, n=2))  # fired again: the quiet starts over
    clock.advance(timedelta(hours=23, minutes=59))
    assert sweep(runtime) == []
    clock.advance(timedelta(minutes=1))
    (resolved,) = sweep(runtime)
    assert sweep(runtime) == []  # swept once
    (message,) = topic.pull(1)
    published = Alert.model_validate_json(message.data)
    assert published == resolved
    assert message.ordering_key == ordering_key_for("job-1/2", EMULATOR_ORDERING_BUCKETS)
    assert published.status == "resolved" and published.dedup_key == "job-1/2"
    assert "auto-resolved after 24h quiet" in published.summary
    assert published.occurred_at == T0 + timedelta(hours=44)
    send(runtime, published)  # what the notifier's subscription delivers
    assert actions(destinations) == ["trigger", "trigger", "resolve"]  # 20 h > repeat_after
    assert actions(destinations, "/slack/") == ["ERROR", "ERROR", "RESOLVED"]
    send(runtime, published)  # a sweep repeated after a crash publishes the same alert
    assert actions(destinations) == ["trigger", "trigger", "resolve"]
    # a new failure afterwards is a new incident: paged, and swept again after its quiet
    clock.advance(timedelta(minutes=5))
    send(runtime, subtask_alert(clock, n=3))
    assert actions(destinations) == ["trigger", "trigger", "resolve", "trigger"]
    clock.advance(timedelta(hours=24))
    (again,) = sweep(runtime)
    assert again.id != resolved.id


def test_auto_resolve_is_off_unless_the_tenant_names_the_source(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    send(runtime, subtask_alert(clock, source="adobe.flow_run"))
    send(runtime, subtask_alert(clock, key="g", tenant_id="5151"))
    clock.advance(timedelta(days=30))
    assert sweep(runtime) == []


def test_due_is_deterministic_and_skips_closed_young_and_unconfigured_records(
    tenants: Tenants,
) -> None:
    fired = T0.timestamp()
    record = {
        "tenant_id": "4242",
        "dedup_key": "k",
        "source": "liveramp.subtask",
        "open": True,
        "last_fired_at": fired,
        "summary": "step k failed",
        "resource": {"kind": "subtask_step", "id": "k"},
    }
    later = fired + 86400
    (one,) = due([record], tenants, later)
    (same,) = due([record], tenants, later + 3600)  # a later sweep: the same alert
    assert same.id == one.id and same.occurred_at == one.occurred_at == T0 + timedelta(days=1)
    assert due([record], tenants, later - 1) == []
    assert due([{**record, "open": False}], tenants, later) == []
    assert due([{**record, "source": "adobe.flow_run"}], tenants, later) == []
    assert due([{**record, "tenant_id": "5151"}], tenants, later) == []
    assert due([{**record, "tenant_id": "gone"}], tenants, later) == []


def test_sweep_entry_point_runs_on_a_scheduler_tick(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock, watch: Any
) -> None:
    topic: TopicWatch = watch("alerts-4242")
    send(runtime, subtask_alert(clock))
    clock.advance(timedelta(hours=25))
    app = functions_framework.create_app(target="sweep", source=str(ROOT / "functions" / "main.py"))
    response = app.test_client().post(
        "/",
        json={"message": {"data": base64.b64encode(b"tick").decode(), "messageId": "1"}},
        headers={
            "ce-specversion": "1.0",
            "ce-id": "1",
            "ce-source": "//pubsub.googleapis.com/projects/p/topics/alertbridge-tick",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        },
    )
    assert response.status_code == 200
    (message,) = topic.pull(1)
    assert message.attributes["status"] == "resolved"


def test_the_local_notify_worker_sweeps_on_its_own_tick_and_sends_the_resolve(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    send(runtime, subtask_alert(clock))
    clock.advance(timedelta(hours=24, seconds=1))
    worker = NotifyWorker(runtime, sweep_every_s=0.1).start()
    try:
        sent = destinations.wait_for(4, timeout=30)  # trigger + post, then resolve + post
    finally:
        worker.stop()
    assert [c.body["event_action"] for c in sent if "enqueue" in c.path] == ["trigger", "resolve"]


# ---- never send twice --------------------------------------------------------------------------


def test_a_redelivery_racing_a_slow_send_does_not_page_twice(
    runtime: Runtime,
    state: StateStore,
    tenants: Tenants,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second_done = threading.Event()
    first_arrived = threading.Event()

    def hold_the_first(captured: Captured) -> None:
        if captured.path.startswith("/v2/enqueue") and not first_arrived.is_set():
            first_arrived.set()
            second_done.wait(10)  # PagerDuty is slow until the redelivery has run

    server = CaptureServer(on_request=hold_the_first).start()
    try:
        for key, value in capture_env(server.url, tenants).items():
            monkeypatch.setenv(key, value)
        fired = subtask_alert(clock, key="slow")
        outcomes: list[Any] = []
        first = threading.Thread(target=lambda: outcomes.append(send(runtime, fired)))
        first.start()
        assert first_arrived.wait(10)
        try:
            with pytest.raises(SendInFlight):  # nacked: Pub/Sub redelivers it later
                send(runtime, fired)
        finally:
            second_done.set()
        first.join(10)
        assert [o.action for o in outcomes[0]] == ["sent", "sent"]
        send(runtime, fired)  # the later redelivery finds it sent
        assert [c.body["event_action"] for c in server.requests if "enqueue" in c.path] == [
            "trigger"
        ]
        assert len([c for c in server.requests if c.path.startswith("/slack/")]) == 1
    finally:
        server.stop()


class Crash(BaseException):
    """The instance dies mid-send (not an Exception: nothing in the handler catches it)."""


class DyingTransport(Transport):
    def post(self, *args: Any, **kwargs: Any) -> ReceiverAnswer:
        raise Crash


def test_a_send_whose_attempt_died_is_sent_by_a_redelivery_once_the_lease_expires(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    fired = subtask_alert(clock)
    with pytest.raises(Crash):
        send(runtime, fired, transport=DyingTransport())
    clock.advance(timedelta(seconds=10))
    with pytest.raises(SendInFlight):
        send(runtime, fired)  # the lease is still live: the dead attempt might be sending
    clock.advance(timedelta(minutes=2))
    assert [o.action for o in send(runtime, fired)] == ["sent", "sent"]
    assert actions(destinations) == ["trigger"]


def test_destinations_are_sent_in_parallel(
    runtime: Runtime,
    state: StateStore,
    tenants: Tenants,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both = threading.Barrier(2, timeout=5)

    def wait_for_the_other(captured: Captured) -> None:
        both.wait()  # PagerDuty and Slack each answer only once the other has been asked

    server = CaptureServer(on_request=wait_for_the_other).start()
    try:
        for key, value in capture_env(server.url, tenants).items():
            monkeypatch.setenv(key, value)
        outcomes = send(runtime, subtask_alert(clock))
        assert not both.broken
        assert [o.action for o in outcomes] == ["sent", "sent"]
    finally:
        server.stop()


def test_delivery_stops_within_the_total_budget(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    clock: Clock,
    dead_letters: TopicWatch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_NOTIFY_BUDGET", "1")
    destinations.script("/v2/enqueue", [503] * 1000)
    patient = Backoff(attempts=1000, base_s=0.05, cap_s=0.1, timeout_s=5)
    started = time.monotonic()
    outcomes = handle_alert(runtime, subtask_alert(clock).to_json_bytes(), {}, "m", backoff=patient)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed
    assert {(o.destination, o.action) for o in outcomes} == {
        ("pagerduty", "dead_lettered"),
        ("slack", "sent"),
    }
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "delivery_failed"
    assert "budget" in dead.attributes["dead_letter_detail"]
    # the claim was released: replaying the dead letter tries again at once (no SendInFlight)
    again = handle_alert(runtime, subtask_alert(clock).to_json_bytes(), {}, "m", backoff=patient)
    assert [(o.destination, o.action) for o in again] == [
        ("pagerduty", "dead_lettered"),
        ("slack", "skip_duplicate"),
    ]
    assert state.get(FIRED, "4242|job-1/2") is not None  # auto-resolve knows it fired
