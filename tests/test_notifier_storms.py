"""Alert storms: past ``threshold`` new incidents within ``window``, one storm notification
instead of one page each, updated at most once per window, resolved after a quiet window.

Real Firestore emulator for state, the capture server for PagerDuty and Slack, a fake
clock; concurrent notifier instances are threads sharing the store.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.alert import Alert, AlertError, Resource
from alertbridge.notify import storm
from alertbridge.notify.delivery import Backoff
from alertbridge.notify.handler import handle_alert
from alertbridge.notify.tick import tick
from alertbridge.runtime import Runtime
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants, TenantsFileError, loads_tenants
from alertbridge_dev.capture import CaptureServer
from conftest import FakeClock as Clock

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
        storm: {threshold: 5, window: 60s}
"""
STORM_KEY = "alertbridge.storm:4242"


@pytest.fixture
def tenants() -> Tenants:
    return loads_tenants(TENANTS_YAML)


def failure(clock: Clock, n: int, status: str = "firing") -> Alert:
    source = "adobe.flow_run" if n % 4 else "liveramp.subtask"
    return Alert(
        id=f"f{n}-{status}",
        dedup_key=f"pipeline-{n}",
        tenant_id="4242",
        source=source,
        status=status,
        severity="error" if status == "firing" else "info",
        summary=f"pipeline {n} {status}",
        occurred_at=clock.at,
        received_at=clock.at,
        resource=Resource(kind="flow", id=f"flow-{n % 7}"),
        errors=[AlertError(code="UPSTREAM-503" if n % 3 else "AUTH-401", message="down")],
    )


def send(runtime: Runtime, a: Alert) -> list[str]:
    return [d.action for d in handle_alert(runtime, a.to_json_bytes(), {}, "m", backoff=FAST)]


def pd(capture: CaptureServer) -> list[dict[str, Any]]:
    return [c.body for c in capture.requests if c.path.startswith("/v2/enqueue")]


def slack(capture: CaptureServer) -> list[str]:
    return [c.body["text"] for c in capture.requests if c.path.startswith("/slack/")]


def test_forty_failures_in_ten_seconds_page_threshold_times_plus_one_storm(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    for n in range(40):
        send(runtime, failure(clock, n))
        clock.advance(0.25)
    events = pd(destinations)
    singles = [e for e in events if e["dedup_key"] != STORM_KEY]
    storms = [e for e in events if e["dedup_key"] == STORM_KEY]
    assert len(singles) == 20 and len(storms) == 1 and len(events) <= 21
    assert {e["dedup_key"] for e in singles} == {f"pipeline-{n}" for n in range(20)}
    (first,) = storms
    details = first["payload"]["custom_details"]
    # the storm notification is sent when it starts (member 21), then at most once a window
    assert first["event_action"] == "trigger" and details["count"] == 1
    assert (
        details["paged_before_storm"] == 20
        and "after 20 paged one by one" in (first["payload"]["summary"])
    )
    assert "Alert storm for tenant 4242" in first["payload"]["summary"]
    # slack has threshold 5: 5 posts, then one storm message
    texts = slack(destinations)
    assert len(texts) == 6 and texts[-1].startswith("STORM: Alert storm for tenant 4242")
    assert runtime.metrics.snapshot()["notify_suppressed"] == {"storm": 20 + 35}

    # the tick sends one update a window after the storm started, listing every member
    clock.advance(60 - 10 + 5)  # t = 65 s: 60 s after the storm notification
    report = tick(runtime)
    assert sorted(report.storms) == ["4242|pagerduty: update", "4242|slack: update"]
    update = pd(destinations)[-1]
    details = update["payload"]["custom_details"]
    assert update["dedup_key"] == STORM_KEY and details["count"] == 20
    assert {m["dedup_key"] for m in details["members"]} == {f"pipeline-{n}" for n in range(20, 40)}
    assert details["sources"] == {"adobe.flow_run": 15, "liveramp.subtask": 5}
    assert list(details["error_codes"]) == ["UPSTREAM-503", "AUTH-401"]
    assert "top error codes: UPSTREAM-503 x13, AUTH-401 x7" in update["payload"]["summary"]
    assert tick(runtime).storms == []  # at most once a window

    # a folded member's resolve is not sent on its own; a window with none resolves the storm
    send(runtime, failure(clock, 25, "resolved"))
    clock.advance(10)  # 70 s since the last member arrived at 9.75 s
    assert sorted(tick(runtime).storms) == ["4242|pagerduty: resolve", "4242|slack: resolve"]
    assert pd(destinations)[-1] == {
        "routing_key": pd(destinations)[0]["routing_key"],
        "event_action": "resolve",
        "dedup_key": STORM_KEY,
    }
    assert slack(destinations)[-1].startswith("RESOLVED: Alert storm")
    assert tick(runtime).storms == []  # resolved once
    assert len(pd(destinations)) == 23  # 20 singles + storm trigger, update, resolve
    # after the storm a new failure pages on its own again
    assert send(runtime, failure(clock, 99)) == ["sent", "sent"]


def test_concurrent_notifier_instances_start_one_storm(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: send(runtime, failure(clock, n)), range(40)))
    events = pd(destinations)
    assert len([e for e in events if e["dedup_key"] != STORM_KEY]) == 20
    assert len([e for e in events if e["dedup_key"] == STORM_KEY]) == 1
    assert sum(o.count("folded") for o in outcomes) == 20 + 35


def test_storm_is_on_by_default_can_be_turned_off_and_refuses_bad_values() -> None:
    tenants = loads_tenants(TENANTS_YAML)
    notify = tenants.get("4242").notify  # type: ignore[union-attr]
    assert notify.pagerduty is not None and notify.pagerduty.storm == storm.StormPolicy(
        threshold=20, window=timedelta(seconds=60)
    )
    off = loads_tenants(TENANTS_YAML.replace("storm: {threshold: 5, window: 60s}", "storm: null"))
    assert off.get("4242").notify.slack.storm is None  # type: ignore[union-attr]
    with pytest.raises(TenantsFileError, match=r"notify\.slack\.storm\.threshold"):
        loads_tenants(TENANTS_YAML.replace("threshold: 5", "threshold: 0"))
    with pytest.raises(TenantsFileError, match=r"notify\.slack\.storm\.window"):
        loads_tenants(TENANTS_YAML.replace("window: 60s", "window: a minute"))


OTHER_DESTINATIONS_YAML = """
tenants:
  - id: "4242"
    name: acme
    notify:
      teams: {webhook_url_env: ACME_TEAMS_WEBHOOK_URL, storm: {threshold: 3, window: 60s}}
      opsgenie: {api_key_env: ACME_OPSGENIE_API_KEY, storm: {threshold: 3, window: 60s}}
      webhook:
        url_env: ACME_WEBHOOK_URL
        secret_env: ACME_WEBHOOK_SECRET
        storm: {threshold: 3, window: 60s}
"""


@pytest.mark.parametrize("tenants", [loads_tenants(OTHER_DESTINATIONS_YAML)])
def test_teams_opsgenie_and_the_webhook_fold_a_storm_through_their_own_formats(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, clock: Clock
) -> None:
    """Storms are per destination, on by default for every one: the storm goes to Teams as a
    card, to Opsgenie as one alert (alias = the storm's key, closed by alias), to the webhook
    as a signed alert of source alertbridge.storm; each receiver accepted it."""
    for n in range(10):
        send(runtime, failure(clock, n))
        clock.advance(0.5)
    by_path: dict[str, list[Any]] = {"teams": [], "opsgenie": [], "webhook": []}
    for c in destinations.requests:
        key = "opsgenie" if c.path.startswith("/v2/alerts") else c.path.split("/")[1]
        by_path[key].append(c)
        assert c.status < 300, (c.path, c.status, c.body)
    for name, got in by_path.items():
        assert len(got) == 3 + 1, (name, [c.path for c in got])  # threshold singles + storm
    assert "Alert storm for tenant 4242" in json_text(by_path["teams"][-1].body)
    assert by_path["opsgenie"][-1].body["alias"] == STORM_KEY
    storm_event = by_path["webhook"][-1].body
    assert storm_event["data"]["source"] == "alertbridge.storm"
    assert storm_event["data"]["dedup_key"] == STORM_KEY
    clock.advance(70)  # a window with no new incident: the storm is resolved everywhere
    assert sorted(tick(runtime).storms) == [
        "4242|opsgenie: resolve",
        "4242|teams: resolve",
        "4242|webhook: resolve",
    ]
    closes = [c.path for c in destinations.requests if c.path.startswith("/v2/alerts/")]
    assert closes and "alertbridge.storm" in closes[-1] and "close" in closes[-1]


def json_text(body: Any) -> str:
    import json

    return json.dumps(body)
