"""Silences: a matching firing alert is held back from on-call, its resolve is not, and
what was held is sent when the silence ends.

Real Firestore emulator for state (silences and held incidents), the Pub/Sub emulator for
the tenant topic, the capture server for PagerDuty and Slack, a fake clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.alert import Alert, AlertError, Resource
from alertbridge.notify import silences
from alertbridge.notify.delivery import Backoff
from alertbridge.notify.handler import handle_alert
from alertbridge.notify.tick import tick
from alertbridge.runtime import Runtime
from alertbridge.state import MemoryStore, StateStore
from alertbridge.tenants import Tenants, loads_tenants
from alertbridge_dev import cli
from alertbridge_dev.capture import CaptureServer
from alertbridge_dev.emulator import Emulator
from alertbridge_dev.worker import NotifyWorker
from conftest import FakeClock as Clock
from conftest import TopicWatch

FAST = Backoff(attempts=3, base_s=0.001, cap_s=0.01, timeout_s=5)
T0 = datetime(2026, 11, 25, tzinfo=UTC)
TENANTS_YAML = """
tenants:
  - id: "4242"
    name: acme
    notify:
      pagerduty:
        routing_key_env: ACME_PAGERDUTY_ROUTING_KEY
      slack:
        webhook_url_env: ACME_SLACK_WEBHOOK_URL
"""


@pytest.fixture
def tenants() -> Tenants:
    return loads_tenants(TENANTS_YAML)


def alert(clock: Clock, key: str, status: str = "firing", n: int = 1, **kw: Any) -> Alert:
    fields: dict[str, Any] = dict(
        id=f"{key}-{status}-{n}",
        dedup_key=key,
        tenant_id="4242",
        source="adobe.flow_run",
        status=status,
        severity="error" if status == "firing" else "info",
        summary=f"flow {key} {status}",
        occurred_at=clock.at,
        received_at=clock.at,
        resource=Resource(kind="adobe_flow", id=f"flow-{key}"),
        errors=[AlertError(code="CONNECTOR-2001", message="failed")],
        labels={"env": "prod"},
    )
    fields.update(kw)
    return Alert(**fields)


def send(runtime: Runtime, a: Alert) -> list[str]:
    return [d.action for d in handle_alert(runtime, a.to_json_bytes(), {}, "m", backoff=FAST)]


def pd(capture: CaptureServer) -> list[tuple[str, str]]:
    return [
        (c.body["event_action"], c.body["dedup_key"])
        for c in capture.requests
        if c.path.startswith("/v2/enqueue")
    ]


def slack_texts(capture: CaptureServer) -> list[str]:
    return [c.body["text"] for c in capture.requests if c.path.startswith("/slack/")]


def silence(runtime: Runtime, clock: Clock, hours: float = 2, **match: str) -> str:
    ends = clock.now + hours * 3600
    record = silences.add(
        runtime.state, runtime.tenants, "4242", match, ends, "maintenance", clock.now
    )
    return str(record["id"])


def test_a_silence_holds_the_trigger_but_lets_the_resolve_of_an_open_incident_through(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    clock: Clock,
    watch: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    send(runtime, alert(clock, "open-before"))  # paged before the maintenance window
    silence_id = silence(runtime, clock, resource_id="flow-*", **{"labels.env": "prod"})
    clock.advance(timedelta(minutes=1))
    assert send(runtime, alert(clock, "during")) == ["silenced", "silenced"]
    assert send(runtime, alert(clock, "open-before", "resolved")) == ["sent", "sent"]
    assert send(runtime, alert(clock, "during", "resolved")) == ["skip_not_open"] * 2
    other = alert(clock, "other", resource=Resource(kind="adobe_flow", id="dataset-9"))
    assert send(runtime, other) == ["sent", "sent"]  # not matched: paged
    assert pd(destinations) == [
        ("trigger", "open-before"),
        ("resolve", "open-before"),
        ("trigger", "other"),
    ]
    assert runtime.metrics.snapshot()["notify_suppressed"] == {"silence": 1}
    out = capfd.readouterr().out
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    (held,) = [e for e in logged if e.get("message") == "suppressed by silence"]
    print(out, end="")  # the secrets check reads it too
    assert held["silence_id"] == silence_id and held["dedup_key"] == "during"


def test_when_the_silence_ends_a_held_incident_still_firing_is_sent_once(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    silence(runtime, clock, hours=1, dedup_key="held-*")
    send(runtime, alert(clock, "held-1"))
    clock.advance(timedelta(minutes=10))
    send(runtime, alert(clock, "held-1", n=2))  # fails again: the newest is held
    send(runtime, alert(clock, "held-2"))
    send(runtime, alert(clock, "held-2", "resolved"))  # recovered under the silence
    assert pd(destinations) == []
    assert tick(runtime).released == []  # still silenced: nothing to send
    clock.advance(timedelta(minutes=50))
    report = tick(runtime)
    assert [a.id for a in report.released] == ["held-1-firing-2"]
    assert pd(destinations) == [("trigger", "held-1")]
    assert slack_texts(destinations) == ["ERROR: flow held-1 firing"]
    assert tick(runtime).released == []  # released once
    send(runtime, alert(clock, "held-1", "resolved", occurred_at=clock.at))
    assert pd(destinations) == [("trigger", "held-1"), ("resolve", "held-1")]


def test_expiring_a_silence_releases_at_the_next_tick_of_the_local_worker(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    silence_id = silence(runtime, clock, source="adobe.flow_run")
    send(runtime, alert(clock, "k"))
    clock.advance(timedelta(minutes=5))
    expired = silences.expire(runtime.state, silence_id, clock.now)
    assert expired["ends_at"] == clock.now
    worker = NotifyWorker(runtime, sweep_every_s=0.1).start()
    try:
        sent = destinations.wait_for(2, timeout=30)
    finally:
        worker.stop()
    assert sorted(c.path.split("/")[1] for c in sent) == ["slack", "v2"]


def test_bad_silences_are_refused_naming_the_field_and_store_nothing(
    runtime: Runtime, state: StateStore, clock: Clock
) -> None:
    for items, message in [
        ([], "at least one"),
        (["team=x"], "field must be one of"),
        (["source"], "FIELD=VALUE"),
        (["source=*"], "more than '*'"),
        (["source=a", "source=b"], "given twice"),
    ]:
        with pytest.raises(silences.SilenceError, match=message):
            silences.parse_match(items)
    with pytest.raises(silences.SilenceError, match="until: must be in the future"):
        silences.add(
            runtime.state, runtime.tenants, "4242", {"source": "x"}, clock.now, "c", clock.now
        )
    with pytest.raises(silences.SilenceError, match="tenant 'nope'"):
        silences.add(runtime.state, runtime.tenants, "nope", {"source": "x"}, 9e9, "c", 0)
    with pytest.raises(silences.SilenceError, match="no such silence"):
        silences.expire(runtime.state, "missing", clock.now)
    assert silences.listed(runtime.state, "4242") == []


def test_the_cli_adds_lists_and_expires_silences_on_the_stack(
    runtime: Runtime,
    state: StateStore,
    firestore_emulator: Emulator,
    project: str,
    tenants_file: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    capsys = capfd
    monkeypatch.setenv("ALERTBRIDGE_PROJECT", project)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("ALERTBRIDGE_TENANTS_FILE", tenants_file)
    argv = ["silence", "add", "--tenant", "4242", "--match", "source=adobe.flow_run"]
    assert cli.main([*argv, "--for", "2h", "--comment", "upgrade"]) == 0
    silence_id = capsys.readouterr().out.strip()
    assert len(silence_id) == 12
    assert cli.main(["silence", "list", "--tenant", "4242"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{silence_id}  active") and "source=adobe.flow_run" in line
    assert cli.main(["silence", "expire", silence_id]) == 0
    capsys.readouterr()
    assert cli.main(["silence", "list", "--tenant", "4242"]) == 0
    assert "expired" in capsys.readouterr().out
    assert cli.main([*argv, "--until", "2001-01-01T00:00:00Z", "--comment", "x"]) == 2
    assert "until: must be in the future" in capsys.readouterr().err
    bad = ["silence", "add", "--tenant", "4242", "--match", "team=x", "--for", "1h"]
    assert cli.main([*bad, "--comment", "x"]) == 2
    assert "field must be one of" in capsys.readouterr().err


@pytest.fixture
def tenants_file(tmp_path: Any) -> str:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS_YAML)
    return str(path)


def test_topic_is_untouched_by_a_silence(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock, watch: Any
) -> None:
    """The notifier never publishes a held alert anywhere: the topic has what normalize put."""
    topic: TopicWatch = watch("alerts-4242")
    silence(runtime, clock, dedup_key="*")
    send(runtime, alert(clock, "k"))
    assert topic.quiet(settle=0.5) == []


class CountingStore(MemoryStore):
    """The in-memory store with the contract of Firestore's, counting tenant queries."""

    def __init__(self) -> None:
        super().__init__()
        self.finds = 0

    def find(self, collection: str, field: str, value: Any) -> list[dict[str, Any]]:
        self.finds += 1
        return super().find(collection, field, value)


def test_a_notifier_reads_a_tenants_silences_once_a_second_and_its_own_changes_at_once(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, store = Clock(T0), CountingStore()
    firing = alert(clock, "flow-a")
    assert all(silences.active_for(store, firing, clock.now) is None for _ in range(50))
    assert store.finds == 1  # 50 alerts, one query
    added = silences.add(store, tenants, "4242", {"source": "adobe.*"}, clock.now + 3600, "m", 0)
    held = silences.active_for(store, firing, clock.now)
    assert held is not None and held["id"] == added["id"]  # this process's silence: at once
    silences.expire(store, added["id"], clock.now)
    assert silences.active_for(store, firing, clock.now) is None  # and its expiry too
    # a silence stored by another process is seen once the cache window has passed
    other = {**added, "id": "other", "ends_at": clock.now + 60}
    store.update(silences.SILENCES, "other", lambda _: other)
    monkeypatch.setattr(silences, "CACHE_S", 0.0)
    seen = silences.active_for(store, firing, clock.now)
    assert seen is not None and seen["id"] == "other"
