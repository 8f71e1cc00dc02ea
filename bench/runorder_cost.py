"""What run order costs the normaliser per CIH message, with and without it.

    PUBSUB=127.0.0.1:8681 FIRESTORE=127.0.0.1:8682 .venv/bin/python bench/runorder_cost.py

Times N CIH trees (the seed's: 2 alerts each) through ``normalize.handle_message`` on the
emulators, one at a time (each waits for its publish, as the Eventarc-pushed function
does), first with CIH unordered (as before issue 14) then ordered (one Firestore
compare-and-set per alert). Half the trees reuse 20 applications (the record exists: an
update), half are new keys (a create). Measures, asserts nothing.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))

from alertbridge.auth.tokens import Keyring  # noqa: E402
from alertbridge.pipeline import normalize  # noqa: E402
from alertbridge.pipeline.envelope import IngestEnvelope  # noqa: E402
from alertbridge.runtime import Runtime  # noqa: E402
from alertbridge.settings import Settings  # noqa: E402
from alertbridge.state import FirestoreStore  # noqa: E402
from alertbridge.tenants import load_tenants  # noqa: E402
from alertbridge_dev.devstack import provision  # noqa: E402

TREE = json.loads((ROOT / "tests" / "fixtures" / "informatica_seed_event.json").read_text())
N = int(os.environ.get("N", "400"))


def messages(run: str) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(N):
        tree = copy.deepcopy(TREE)
        pub = f"{run}-{i % 20}" if i % 2 else f"{run}-new-{i}"
        tree["pubSubName"] = tree["childEvents"][0]["pubSubName"] = pub
        tree["eventId"], tree["childEvents"][0]["eventId"] = 10 * i, 10 * i + 1
        done = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)).isoformat()
        tree["completionTime"] = tree["childEvents"][0]["completionTime"] = done  # newer runs
        env = IngestEnvelope(b"", "informatica.cih", f"b-{i}", datetime.now(UTC), tenant_id="4242")
        out.append((json.dumps(tree).encode(), env.attributes()))
    return out


def timed(runtime: Runtime, ordered: bool) -> tuple[list[float], list[float]]:
    """(whole handling, the plan alone: adapter + run order) per message, in seconds."""
    normalize.ORDERED_SOURCES = (
        frozenset({"adobe.flow_run", "informatica.cih"})
        if ordered
        else frozenset({"adobe.flow_run"})
    )
    batch = messages(uuid.uuid4().hex[:6])
    for data, attrs in batch[:20]:  # warm up connections and caches
        normalize.handle_message(runtime, data, attrs)
    seconds, planning = [], []
    for data, attrs in batch[20:]:
        start = time.perf_counter()
        plan = normalize.plan_message(runtime, data, attrs)
        planned = time.perf_counter()
        runtime.publisher.publish_and_wait(plan.messages)
        outcome = normalize.settle(runtime, plan)
        seconds.append(time.perf_counter() - start)
        planning.append(planned - start)
        assert outcome.dead_letter_reason is None and len(outcome.alerts) == 2
    return seconds, planning


def main() -> None:
    pubsub, firestore = os.environ["PUBSUB"], os.environ["FIRESTORE"]
    project = f"bench-runorder-{uuid.uuid4().hex[:6]}"
    tenants = load_tenants(ROOT / "config" / "tenants.example.yaml")
    provision(pubsub, project, tenants)
    runtime = Runtime(Settings(project_id=project), tenants, Keyring.generate(), pubsub)
    runtime.state = FirestoreStore(project, firestore)
    try:
        for label, ordered in (("unordered (before)", False), ("ordered (after)", True)) * 3:
            s, p = timed(runtime, ordered)
            ms, plan_ms = sorted(x * 1000 for x in s), sorted(x * 1000 for x in p)
            print(
                f"{label:20} {len(s)} CIH messages (2 alerts each): whole p50 "
                f"{statistics.median(ms):.2f} ms, mean {statistics.fmean(ms):.2f} ms "
                f"({len(s) / sum(s):.0f} msg/s); plan (adapter + run order) p50 "
                f"{statistics.median(plan_ms):.2f} ms, mean {statistics.fmean(plan_ms):.2f} ms",
                flush=True,
            )
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
