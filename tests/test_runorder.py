"""Run order through the real normaliser and the Firestore emulator: a run dated in the
future cannot move the record (it is dead-lettered ``implausible_time``), CIH is ordered
like Adobe, and replaying an ingest range pages nothing again for what was resolved."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.alert import Alert
from alertbridge.pipeline import runorder
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.normalize import handle_message
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.sources.adobe import adapter as adobe
from alertbridge.sources.informatica import adapter as informatica
from alertbridge.state import FirestoreStore, StateStore
from alertbridge_dev.replay import replay_ingest
from conftest import ROOT, TopicWatch

SOURCES = ROOT / "functions" / "alertbridge" / "sources"
ADOBE = json.loads((SOURCES / "adobe" / "samples" / "flow_runs.json").read_text())
CIH = json.loads((SOURCES / "informatica" / "samples" / "events.json").read_text())
RECEIVED = datetime(2026, 11, 25, tzinfo=UTC)
YEAR_9999_MS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() * 1000)
FLOW_KEY = "adobe.flow_run:4242:prod:cf4fce79-8822-456d-8fce-798822556dc6"
CIH_SUB_KEY = "informatica.cih:4242:DI_App:DI_Topic:DSS_Sub:SUBSCRIPTION"


def attrs(source: str, request_id: str, tenant: str | None = None) -> dict[str, str]:
    return IngestEnvelope(b"", source, request_id, RECEIVED, tenant_id=tenant).attributes()


def adobe_run(kind: str, started: datetime) -> bytes:
    """The demo's Adobe failure message or success, its run starting at ``started``."""
    if kind == "failure":
        event = copy.deepcopy(ADOBE["failure"][0]["messages"][0])
        run = event["value"]
    else:
        event = copy.deepcopy(ADOBE["success"])
        run = event["event"]
    run["metrics"]["durationSummary"]["startedAtUTC"] = int(started.timestamp() * 1000)
    run["id"] = f"run-{kind}-{started.isoformat()}"
    return json.dumps(event).encode()


def cih_tree(index: int) -> bytes:
    return json.dumps(CIH[index]["event"]).encode()


def normalise(runtime: Runtime, source: str, data: bytes, request_id: str) -> Any:
    tenant = "4242" if source == informatica.SOURCE else None
    return handle_message(runtime, data, attrs(source, request_id, tenant))


# ---- item 2: a run dated in the future never moves the run-order record ----------------------


def test_a_signed_success_dated_year_9999_is_dead_lettered_and_later_failures_still_page(
    runtime: Runtime, state: StateStore, watch: Any, dead_letters: TopicWatch
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    forged = adobe_run("success", RECEIVED)
    event = json.loads(forged)
    event["event"]["metrics"]["durationSummary"]["startedAtUTC"] = YEAR_9999_MS
    outcome = normalise(runtime, adobe.SOURCE, json.dumps(event).encode(), "forged")
    assert outcome.dead_letter_reason == "implausible_time"
    assert state.get("run-order", FLOW_KEY) is None  # the record did not move
    (letter,) = dead_letters.pull(1)
    assert letter.attributes["dead_letter_reason"] == "implausible_time"
    assert FLOW_KEY in letter.attributes["dead_letter_detail"]
    assert "9999-12-31" in letter.attributes["dead_letter_detail"]
    assert json.loads(letter.data) == event  # the original bytes, replayable

    real = normalise(
        runtime, adobe.SOURCE, adobe_run("failure", RECEIVED - timedelta(hours=1)), "r"
    )
    assert [a.status for a in real.alerts] == ["firing"]
    assert [m.json()["status"] for m in acme.pull(1)] == ["firing"]
    assert state.get("run-order", FLOW_KEY)["status"] == "firing"  # type: ignore[index]


def test_the_skew_is_inclusive_and_configurable(
    runtime: Runtime, state: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_RUN_TIME_MAX_SKEW", "600")
    runtime.settings = dataclasses.replace(
        runtime.settings, run_time_max_skew_s=Settings.from_env().run_time_max_skew_s
    )
    over = normalise(
        runtime, adobe.SOURCE, adobe_run("failure", RECEIVED + timedelta(seconds=601)), "o"
    )
    assert over.dead_letter_reason == "implausible_time"
    assert state.get("run-order", FLOW_KEY) is None
    edge = normalise(
        runtime, adobe.SOURCE, adobe_run("failure", RECEIVED + timedelta(seconds=600)), "e"
    )
    assert edge.dead_letter_reason is None and len(edge.alerts) == 1
    assert Settings().run_time_max_skew_s == 3600.0  # default: one hour


def test_one_future_dated_event_in_a_cih_tree_dead_letters_the_whole_tree_publishing_nothing(
    runtime: Runtime, state: StateStore, watch: Any
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    tree = copy.deepcopy(CIH[0]["event"])
    tree["childEvents"][0]["completionTime"] = "9999-01-01T00:00:00Z"
    outcome = normalise(runtime, informatica.SOURCE, json.dumps(tree).encode(), "t")
    assert outcome.dead_letter_reason == "implausible_time" and outcome.alerts == []
    assert state.get("run-order", CIH_SUB_KEY) is None
    assert acme.quiet(1.0) == []


# ---- item 9: order for every source with run times; replay respects it -----------------------


def test_a_late_older_cih_failure_does_not_reopen_what_a_newer_success_resolved(
    runtime: Runtime, state: StateStore, watch: Any
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    newer = normalise(runtime, informatica.SOURCE, cih_tree(1), "newer")  # 21 April, all complete
    assert {a.status for a in newer.alerts} == {"resolved"} and len(newer.alerts) == 2
    older = normalise(runtime, informatica.SOURCE, cih_tree(0), "older")  # 20 April, child failed
    assert older.alerts == [] and older.dead_letter_reason is None
    assert [m.json()["status"] for m in acme.quiet(1.0)] == ["resolved", "resolved"]
    assert state.get("run-order", CIH_SUB_KEY)["status"] == "resolved"  # type: ignore[index]


def test_replaying_an_ingest_range_pages_nothing_again_for_what_was_resolved(
    runtime: Runtime, state: StateStore, watch: Any
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    since = datetime.now(UTC) - timedelta(seconds=2)
    live = [
        (informatica.SOURCE, cih_tree(0)),  # child 32011 failed
        (informatica.SOURCE, cih_tree(1)),  # the next day: all complete
        (adobe.SOURCE, adobe_run("failure", RECEIVED - timedelta(hours=2))),
        (adobe.SOURCE, adobe_run("success", RECEIVED - timedelta(hours=1))),
    ]
    for index, (source, data) in enumerate(live):
        tenant = "4242" if source == informatica.SOURCE else None
        message = OutgoingMessage(
            "alertbridge-ingest", data, attrs(source, f"live-{index}", tenant)
        )
        runtime.publisher.publish_and_wait([message])
        normalise(runtime, source, data, f"live-{index}")
    first = acme.pull(6)
    assert sorted(m.json()["status"] for m in first) == ["firing"] * 2 + ["resolved"] * 4

    report = replay_ingest(runtime, since)  # a temporary, unordered subscription
    assert report.seen == 4
    again = acme.quiet(1.5)[len(first) :]
    assert [m.json()["status"] for m in again] == ["resolved"] * 3  # the newest runs only
    assert report.alerts == 3
    for source, data in reversed(live):  # the same messages again, newest first
        assert all(a.status == "resolved" for a in normalise(runtime, source, data, "x").alerts)
    assert [m.json()["status"] for m in acme.quiet(1.0)].count("firing") == 2


# ---- one commit per message -----------------------------------------------------------------


def test_a_cih_trees_run_order_records_are_written_by_one_commit(
    runtime: Runtime, state: StateStore
) -> None:
    """Every alert of a tree is decided and recorded together (one atomic Firestore write,
    so the documents share their create_time), not one compare-and-set per alert."""
    assert isinstance(state, FirestoreStore)
    outcome = normalise(runtime, informatica.SOURCE, cih_tree(0), "tree")
    keys = {a.dedup_key for a in outcome.alerts}
    assert len(keys) >= 2, keys
    created = {state._ref("run-order", key).get().create_time for key in keys}
    assert len(created) == 1, created


def test_two_alerts_of_one_message_on_the_same_key_decide_one_after_the_other(
    runtime: Runtime, state: StateStore
) -> None:
    """The same dedup key twice in one message (a failure and the success of the next run):
    the second decides on the record the first wrote, as if they had come one by one."""

    def parsed(kind: str, started: datetime) -> Alert:
        envelope = IngestEnvelope(adobe_run(kind, started), adobe.SOURCE, kind, RECEIVED)
        (alert,) = adobe.parse(envelope, runtime.tenants)
        return alert

    failure = parsed("failure", RECEIVED - timedelta(hours=2))
    success = parsed("success", RECEIVED - timedelta(hours=1))
    assert failure.dedup_key == success.dedup_key
    kept = runorder.apply(state, [failure, success])
    assert [a.status for a in kept] == ["firing", "resolved"]
    assert state.get("run-order", failure.dedup_key)["status"] == "resolved"  # type: ignore[index]
    # and reversed: the older failure arriving second is superseded
    assert runorder.apply(state, [success, failure]) == [success]
