"""Missing and late runs: a declared expectation fires when its runs stop and resolves on
the next one; ``alertbridge expectations suggest`` proposes every/grace from runs seen.

Real Firestore and Pub/Sub emulators, the capture server for PagerDuty, a fake clock on the
runtime (the check is driven by the clock, not by waiting 20 s of real time).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from alertbridge.alert import Alert, Resource
from alertbridge.expectations.check import check, expected_by, observe, propose, suggest
from alertbridge.expectations.config import Expectation
from alertbridge.notify.handler import handle_alert
from alertbridge.pipeline.normalize import alert_message
from alertbridge.pubsub import EMULATOR_ORDERING_BUCKETS, ordering_key_for
from alertbridge.runtime import Runtime
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants, TenantsFileError, loads_tenants
from alertbridge_dev.capture import CaptureServer
from alertbridge_dev.cli import main
from alertbridge_dev.emulator import Emulator
from alertbridge_dev.worker import NotifyWorker
from conftest import ROOT, TopicWatch
from conftest import FakeClock as Clock
from test_notifier_lifecycle import FAST

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RUN_KEY = "liveramp.subtask:4242:job-1:step-2"
MISSING_KEY = "alertbridge.expectation:4242:every-20s"

TENANTS_YAML = """
tenants:
  - id: "4242"
    name: acme
    notify:
      pagerduty:
        routing_key_env: ACME_PAGERDUTY_ROUTING_KEY
        min_severity: error
    expectations:
      - name: every-20s
        match: {dedup_key: "liveramp.subtask:4242:job-1:*"}
        every: 20s
      - name: hourly-cih
        match: {source: informatica.cih, labels.app: DI_App}
        cron: "5 * * * *"
        grace: 10m
  - id: "5151"
    name: globex
"""


@pytest.fixture
def tenants() -> Tenants:
    return loads_tenants(TENANTS_YAML)


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    fake = Clock(T0)
    runtime.clock = fake
    return fake


def run(clock: Clock, n: int, status: str = "resolved", key: str = RUN_KEY, **kw: Any) -> Alert:
    """One run of the watched job, as the normaliser publishes it (a good run resolves)."""
    fields: dict[str, Any] = dict(
        id=f"run-{key}-{n}",
        dedup_key=key,
        tenant_id="4242",
        source="liveramp.subtask",
        status=status,
        severity="info" if status == "resolved" else "error",
        summary=f"run {n} {status}",
        occurred_at=clock.at,
        received_at=clock.at,
        resource=Resource(kind="subtask_step", id="job-1/2"),
    )
    fields.update(kw)
    return Alert(**fields)


def cih(clock: Clock, n: int, app: str = "DI_App") -> Alert:
    return run(
        clock,
        n,
        key=f"informatica.cih:4242:{app}:T:S",
        source="informatica.cih",
        labels={"app": app},
    )


def send(runtime: Runtime, alert: Alert) -> list[Any]:
    return handle_alert(
        runtime, alert.to_json_bytes(), {"tenant_id": alert.tenant_id}, "m", backoff=FAST
    )


def pagerduty(capture: CaptureServer) -> list[tuple[str, str]]:
    return [
        (c.body["event_action"], c.body["dedup_key"])
        for c in capture.requests
        if c.path.startswith("/v2/enqueue")
    ]


def alerts(received: list[Any]) -> list[Alert]:
    return [Alert.model_validate_json(m.data) for m in received]


def tick(target: str) -> int:
    """A Cloud Scheduler tick as Eventarc delivers it to a CloudEvent function."""
    app = functions_framework.create_app(target=target, source=str(ROOT / "functions" / "main.py"))
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
    return int(response.status_code)


# ---- every: fires after silence, resolves on the next run ----


def test_an_every_20s_expectation_fires_once_after_silence_and_the_next_run_resolves_it(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock, watch: Any
) -> None:
    topic: TopicWatch = watch("alerts-4242")
    send(runtime, run(clock, 1))  # a good run: a sign of life
    clock.advance(timedelta(seconds=19))
    assert check(runtime) == []
    clock.advance(timedelta(seconds=1))
    (fired,) = check(runtime)
    assert check(runtime) == []  # fired once, not on every tick
    (message,) = topic.pull(1)
    (published,) = alerts([message])
    assert published == fired
    assert message.ordering_key == ordering_key_for(MISSING_KEY, EMULATOR_ORDERING_BUCKETS)
    assert (published.source, published.status, published.severity) == (
        "alertbridge.expectation",
        "firing",
        "error",
    )
    assert published.dedup_key == MISSING_KEY
    assert published.summary == (
        "missing run: expectation every-20s (every 20s) expected a run by "
        "2026-11-25T10:00:20Z + 0h grace; last run seen 2026-11-25T10:00:00Z "
        f"(resolved alert run-{RUN_KEY}-1)"
    )
    send(runtime, published)  # what the notifier's subscription delivers: paged
    assert pagerduty(destinations) == [("trigger", MISSING_KEY)]

    clock.advance(timedelta(minutes=5))
    send(runtime, run(clock, 2))  # the next run resolves it
    received = topic.pull(2)
    assert [a.status for a in alerts(received)] == ["firing", "resolved"]
    resolve = alerts(received)[1]
    assert resolve.dedup_key == MISSING_KEY and resolve.severity == "info"
    assert f"saw a resolved alert run-{RUN_KEY}-2 at 2026-11-25T10:05:20Z" in resolve.summary
    send(runtime, resolve)
    assert pagerduty(destinations) == [("trigger", MISSING_KEY), ("resolve", MISSING_KEY)]
    send(runtime, run(clock, 2))  # a redelivered run publishes no second resolve
    assert len(topic.quiet(1.0)) == 2
    clock.advance(timedelta(seconds=19))
    assert check(runtime) == []  # the wait starts over from the new run
    clock.advance(timedelta(seconds=1))
    (again,) = check(runtime)
    assert again.id != fired.id  # a new missing run is a new alert


def test_an_expectation_never_met_fires_from_when_the_check_first_saw_it(
    runtime: Runtime, state: StateStore, clock: Clock, watch: Any
) -> None:
    assert check(runtime) == []  # first sight starts the wait
    clock.advance(timedelta(seconds=20))
    (fired,) = check(runtime)
    assert fired.labels["expectation"] == "every-20s"
    assert "no run seen since 2026-11-25T10:00:00Z" in fired.summary


def test_only_matching_alerts_of_the_tenant_are_signs_of_life(
    runtime: Runtime, state: StateStore, clock: Clock, destinations: CaptureServer
) -> None:
    assert check(runtime) == []
    clock.advance(timedelta(seconds=15))
    send(runtime, run(clock, 1, key="liveramp.subtask:4242:job-2:step-2"))  # another job
    send(runtime, run(clock, 2, tenant_id="5151", key="liveramp.subtask:4242:job-1:x"))
    clock.advance(timedelta(seconds=5))
    (fired,) = check(runtime)
    assert fired.labels["last_seen_at"] == ""  # none of them counted
    send(runtime, fired)  # our own alert matches no expectation: it cannot resolve itself
    assert observe(runtime, fired) == []


def test_a_failed_run_is_a_sign_of_life_too(
    runtime: Runtime, state: StateStore, clock: Clock, destinations: CaptureServer
) -> None:
    check(runtime)
    clock.advance(timedelta(seconds=15))
    send(runtime, run(clock, 1, status="firing"))
    clock.advance(timedelta(seconds=15))
    assert check(runtime) == []


def test_check_expectations_entry_point_fires_on_a_scheduler_tick(
    runtime: Runtime, state: StateStore, clock: Clock, watch: Any
) -> None:
    topic: TopicWatch = watch("alerts-4242")
    assert tick("check_expectations") == 200  # first sight
    clock.advance(timedelta(seconds=21))
    assert tick("check_expectations") == 200
    (message,) = topic.pull(1)
    assert message.attributes["dedup_key"] == MISSING_KEY
    assert message.attributes["source"] == "alertbridge.expectation"


def test_the_local_notify_worker_checks_on_its_tick_pages_and_resolves_on_the_next_run(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    send(runtime, run(clock, 1))
    clock.advance(timedelta(seconds=30))
    worker = NotifyWorker(runtime, sweep_every_s=0.1).start()
    try:
        (trigger,) = destinations.wait_for(1, timeout=30)
        assert trigger.body["dedup_key"] == MISSING_KEY
        # the next run lands on the tenant topic, as the normaliser publishes it
        runtime.publisher.publish_and_wait([alert_message(run(clock, 2), "alerts-4242")])
        sent = destinations.wait_for(2, timeout=30)
    finally:
        worker.stop()
    assert pagerduty(destinations) == [("trigger", MISSING_KEY), ("resolve", MISSING_KEY)]
    assert len(sent) == 2


# ---- cron ----


def at(hh: int, mm: int, ss: int = 0) -> float:
    return T0.replace(hour=hh, minute=mm, second=ss).timestamp()


def test_a_cron_run_is_due_at_the_next_slot_and_a_slightly_early_run_counts_for_its_slot() -> None:
    hourly = Expectation.model_validate(
        {"name": "h", "match": {"source": "x"}, "cron": "5 * * * *", "grace": "10m"}
    )
    assert expected_by(hourly, at(10, 20)) == at(11, 5)
    assert expected_by(hourly, at(10, 5)) == at(11, 5)
    assert expected_by(hourly, at(11, 4)) == at(12, 5)  # 1 min early: the 11:05 run
    assert expected_by(hourly, at(10, 50)) == at(11, 5)  # 15 min early: not that slot's
    assert expected_by(hourly, at(11, 4), seen=False) == at(11, 5)  # no run yet: next slot
    every_minute = Expectation.model_validate(
        {"name": "m", "match": {"source": "x"}, "cron": "* * * * *", "grace": "10m"}
    )
    assert expected_by(every_minute, at(10, 0, 50)) == at(10, 2)  # early by ≤ half a period
    assert expected_by(every_minute, at(10, 0, 10)) == at(10, 1)


def test_a_cron_expectation_fires_after_its_slot_plus_grace_and_resolves_on_the_next_run(
    runtime: Runtime, state: StateStore, clock: Clock, watch: Any
) -> None:
    topic: TopicWatch = watch("alerts-4242")
    check(runtime)  # 10:00: first sight; the 10:05 run is due by 10:15
    clock.now = at(10, 14, 59)
    assert [a.labels["expectation"] for a in check(runtime)] == ["every-20s"]
    clock.now = at(10, 15)
    (fired,) = check(runtime)
    assert fired.labels["expectation"] == "hourly-cih"
    assert "(cron '5 * * * *') expected a run by 2026-11-25T10:05:00Z + 10m grace" in fired.summary
    clock.now = at(10, 20)
    observe(runtime, cih(clock, 1, app="Other_App"))  # not this expectation's
    assert observe(runtime, cih(clock, 2))[0].status == "resolved"
    clock.now = at(11, 4)
    observe(runtime, cih(clock, 3))  # a minute early for 11:05
    clock.now = at(11, 16)
    assert [a.labels["expectation"] for a in check(runtime)] == []  # every-20s still open
    clock.now = at(12, 15)
    (late,) = check(runtime)
    assert late.labels["expected_by"] == "2026-11-25T12:05:00Z"
    published = alerts(topic.pull(4))
    assert [(a.labels["expectation"], a.status) for a in published] == [
        ("every-20s", "firing"),
        ("hourly-cih", "firing"),
        ("hourly-cih", "resolved"),
        ("hourly-cih", "firing"),
    ]


# ---- the tenants file ----


def test_an_expectation_needs_one_schedule_a_valid_cron_and_a_unique_name() -> None:
    head = "tenants:\n  - id: 1\n    name: a\n    expectations:\n"
    one = "      - name: n\n        match: {source: x}\n"
    cases = [
        (one, "needs exactly one of every or cron"),
        (one + "        every: 1h\n        cron: '* * * * *'\n", "needs exactly one of"),
        (one + "        cron: '61 * * * *'\n", "cron '61 * * * *' is not a 5-field cron"),
        (one + "        cron: '* * * * * *'\n", "is not a 5-field cron"),
        (one + "        every: 1 hour\n", "a duration is a whole number and a unit"),
        (
            one + "        every: 1h\n" + one + "        every: 2h\n",
            "expectations.name 'n' appears",
        ),
    ]
    for body, rule in cases:
        with pytest.raises(TenantsFileError, match=re.escape(rule)):
            loads_tenants(head + body)


# ---- suggest ----


JITTER = [0, 30, -30, 60, -90, 0, 45, -45, 10, 0]  # seconds off the hour


def hourly_runs(runtime: Runtime, clock: Clock) -> None:
    for n, off in enumerate(JITTER):
        clock.now = T0.timestamp() + n * 3600 + off
        observe(runtime, run(clock, n))
    observe(runtime, run(clock, 9))  # a redelivery is not another run
    for n in range(2):  # too few runs to say anything
        clock.now = T0.timestamp() + n * 600
        observe(runtime, run(clock, n, key="liveramp.subtask:4242:rare:1"))


def test_proposals_take_the_median_interval_and_a_grace_from_the_spread() -> None:
    assert propose([0.0, 60.0]) is None
    hourly = propose([n * 3600.0 + off for n, off in enumerate(JITTER)])
    assert hourly is not None
    runs, median, spread, every, grace = hourly
    assert (runs, median, spread) == (10, 3630, 180)
    assert every == timedelta(hours=1) and grace == timedelta(minutes=6)  # 2 x spread
    daily = propose([n * 86400.0 for n in range(5)])
    assert daily is not None and daily[3:] == (timedelta(days=1), timedelta(minutes=72))


def test_suggest_proposes_every_and_grace_per_dedup_key_from_the_runs_seen(
    runtime: Runtime, state: StateStore, clock: Clock
) -> None:
    hourly_runs(runtime, clock)
    (proposal,) = suggest(runtime, "4242")
    assert proposal.dedup_key == RUN_KEY and proposal.runs == 10
    assert (proposal.every, proposal.grace) == (timedelta(hours=1), timedelta(minutes=6))
    assert proposal.declared == ["every-20s"]


def test_expectations_suggest_cli_prints_yaml_to_paste(
    runtime: Runtime,
    state: StateStore,
    clock: Clock,
    firestore_emulator: Emulator,
    emulator: Emulator,
    project: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    hourly_runs(runtime, clock)
    config = tmp_path / "tenants.yaml"
    config.write_text(TENANTS_YAML)
    for name, value in {
        "ALERTBRIDGE_PROJECT": project,
        "ALERTBRIDGE_TENANTS_FILE": str(config),
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "PUBSUB_EMULATOR_HOST": emulator.host,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["expectations", "suggest", "--tenant", "4242"]) == 0
    out = capfd.readouterr().out
    assert "expectations:\n  - name: job-1-step-2\n" in out
    assert f'    match: {{dedup_key: "{RUN_KEY}"}}\n    every: 1h\n    grace: 6m\n' in out
    assert "# 10 runs, median interval 3630s, spread 180s" in out
    assert "declared: every-20s" in out
    parsed = loads_tenants(
        "tenants:\n  - id: '4242'\n    name: a\n"
        + "\n".join("    " + line for line in out.splitlines()[1:])
    )
    (proposed,) = parsed.get("4242").expectations  # type: ignore[union-attr]
    assert proposed.every == timedelta(hours=1)
    assert main(["expectations", "suggest", "--tenant", "nope"]) == 2
    assert "tenant 'nope' is not in the tenants file" in capfd.readouterr().err
