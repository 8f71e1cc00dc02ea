"""Run order against a model (hypothesis stateful test): random interleavings of flow-run
failures and successes with random run start times per dedup key, duplicates, out-of-order
arrival and future-dated runs, each normalised for real (Adobe adapter, ``check_times``,
``runorder.apply``) over the Firestore emulator.

The model: per dedup key the newest run stands (ranked by start time, a failure before a
success at the same instant); an older run arriving later is not published and changes
nothing; a duplicate, or another run that settles the key the same way at the same instant,
is published but never rewrites the record; a run dated more than the skew after receipt
is dead-lettered ``implausible_time`` and never moves the record.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test

from alertbridge.alert import alert_id
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.normalize import plan_message
from alertbridge.runtime import Runtime
from alertbridge.sources.adobe import adapter as adobe
from alertbridge.state import StateStore
from conftest import ROOT

ADOBE = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)
BASE = datetime(2026, 11, 25, tzinfo=UTC)
RECEIVED = BASE + timedelta(hours=1)
SKEW = timedelta(hours=1)  # the default
FLOWS = ("a", "b", "c")


@dataclass(frozen=True)
class Run:
    flow: str
    started: datetime
    failed: bool
    number: int  # tells apart different runs that started at the same instant

    @property
    def run_id(self) -> str:
        return f"run-{self.started.timestamp():.0f}-{self.failed}-{self.number}"

    @property
    def status(self) -> str:
        return "firing" if self.failed else "resolved"

    @property
    def alert_id(self) -> str:
        return alert_id(adobe.SOURCE, self.run_id, self.status)

    def rank(self) -> tuple[datetime, int]:
        return (self.started, int(self.failed))

    def payload(self, flow_id: str) -> bytes:
        if self.failed:
            event = copy.deepcopy(ADOBE["failure"][0]["messages"][0])
            run = event["value"]
        else:
            event = copy.deepcopy(ADOBE["success"])
            run = event["event"]
        run["flowId"], run["id"] = flow_id, self.run_id
        run["metrics"]["durationSummary"]["startedAtUTC"] = int(self.started.timestamp() * 1000)
        return json.dumps(event).encode()


def test_run_order_matches_its_model(runtime: Runtime, state: StateStore) -> None:
    attributes = IngestEnvelope(b"", adobe.SOURCE, "model", RECEIVED).attributes()

    class RunOrder(RuleBasedStateMachine):
        runs = Bundle("runs")

        def __init__(self) -> None:
            super().__init__()
            # fresh flow ids per example: a clean slate in the same store
            self.prefix = uuid.uuid4().hex[:10]
            self.standing: dict[str, Run] = {}

        def key(self, flow: str) -> str:
            return adobe.dedup_key("4242", "prod", f"{self.prefix}-{flow}")

        def deliver(self, run: Run) -> tuple[list[str], str | None]:
            plan = plan_message(runtime, run.payload(f"{self.prefix}-{run.flow}"), attributes)
            return [a.id for a in plan.outcome.alerts], plan.outcome.dead_letter_reason

        def check_record(self, flow: str) -> None:
            record = state.get("run-order", self.key(flow))
            standing = self.standing.get(flow)
            if standing is None:
                assert record is None
                return
            assert record is not None
            assert (record["alert_id"], record["status"]) == (standing.alert_id, standing.status)
            assert datetime.fromisoformat(record["run_started"]) == standing.started

        def arrives(self, run: Run) -> None:
            before = self.standing.get(run.flow)
            published, reason = self.deliver(run)
            assert reason is None
            assert published == (
                [run.alert_id] if before is None or run.rank() >= before.rank() else []
            )
            if before is None or run.rank() > before.rank():
                self.standing[run.flow] = run
            self.check_record(run.flow)

        @rule(
            target=runs,
            flow=st.sampled_from(FLOWS),
            # up to the skew after receipt (inclusive): plausible, including "in the future"
            minutes=st.integers(0, 120),
            failed=st.booleans(),
            number=st.integers(0, 2),
        )
        def a_run_arrives(self, flow: str, minutes: int, failed: bool, number: int) -> Run:
            run = Run(flow, BASE + timedelta(minutes=minutes), failed, number)
            self.arrives(run)
            return run

        @rule(run=runs)
        def a_run_arrives_again(self, run: Run) -> None:
            self.arrives(run)  # Adobe's at-least-once delivery, a redelivery, a replay

        @rule(
            flow=st.sampled_from(FLOWS),
            past_skew=st.one_of(
                st.integers(1, 10**7).map(lambda s: timedelta(seconds=s)),
                st.just(datetime(9999, 12, 31, tzinfo=UTC) - RECEIVED - SKEW),
            ),
            failed=st.booleans(),
        )
        def a_future_dated_run_arrives(self, flow: str, past_skew: timedelta, failed: bool) -> None:
            run = Run(flow, RECEIVED + SKEW + past_skew, failed, 0)
            assert self.deliver(run) == ([], "implausible_time")
            self.check_record(flow)

    run_state_machine_as_test(
        RunOrder,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
