"""3. Normaliser throughput: a backlog of ingest messages (70 % sub-task, 20 % CIH, 10 %
Adobe) drained by the normaliser, against the naive relay draining the same backlog."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pubsub import OutgoingMessage, Publisher, ensure_subscription, ensure_topics
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import wait_until
from bench.arrivals import ArrivalClock, every_message_key
from bench.harness import ROOT, Row, adobe_event, cih_event, ratio, subtask_body
from bench.procs import spawn
from bench.stack import Context


def run(ctx: Context) -> None:
    stack, report, backlog = ctx.stack, ctx.report, ctx.backlog
    backend = stack.backend()
    print(f"3. normaliser draining {backlog:,} ingest messages", flush=True)
    stack.stop_workers()
    drain_project = "bench-drain"
    provision(backend.pubsub.host, drain_project, stack.tenants)
    ensure_topics(backend.admin, drain_project, ["naive-in", "naive-out"])
    ensure_subscription(
        backend.sub_admin, drain_project, "naive-relay", "naive-in", ack_deadline_s=60
    )
    publisher = Publisher(drain_project, backend.pubsub.host, timeout_s=60, max_latency_s=0.01)

    kinds: list[tuple[str, bytes, int]] = []  # (source, body, alerts it yields)
    for i in range(backlog):
        if i % 10 < 7:
            kinds.append(("liveramp.subtask", json.dumps(subtask_body(i)).encode(), 1))
        elif i % 10 < 9:
            kinds.append(("informatica.cih", json.dumps(cih_event(i)).encode(), 2))
        else:
            kinds.append(("adobe.flow_run", json.dumps(adobe_event(i)).encode(), 1))
    envelopes = [
        IngestEnvelope(
            body,
            source,
            f"drain-{i}",
            datetime.now(UTC),
            tenant_id="4242" if source != "adobe.flow_run" else None,
        )
        for i, (source, body, _) in enumerate(kinds)
    ]
    for chunk in range(0, backlog, 2000):
        publisher.publish_and_wait(
            [
                OutgoingMessage("alertbridge-ingest", e.data, e.attributes())
                for e in envelopes[chunk : chunk + 2000]
            ]
        )
        publisher.publish_and_wait(
            [
                OutgoingMessage("naive-in", e.data, e.attributes())
                for e in envelopes[chunk : chunk + 2000]
            ]
        )
    expected_alerts = sum(n for _, _, n in kinds)
    ours_out = ArrivalClock(
        backend.pubsub.host, drain_project, "alerts-4242", lambda d: json.loads(d)["id"]
    )
    naive_out = ArrivalClock(backend.pubsub.host, drain_project, "naive-out", every_message_key)
    drain_env = {**backend.ours_env, "ALERTBRIDGE_PROJECT": drain_project}
    drainer_rss = 0.0

    def drain_ours() -> float:
        nonlocal drainer_rss
        t0 = time.perf_counter()
        drainer = spawn(
            [sys.executable, "-m", "alertbridge_dev.cli", "worker"], drain_env, "ours-drain"
        )
        stack.procs.append(drainer)
        wait_until(lambda: ours_out.count >= expected_alerts, 600, 0.1)
        elapsed = time.perf_counter() - t0
        drainer_rss = drainer.peak_rss_mib()
        drainer.stop()
        stack.procs.remove(drainer)
        return elapsed

    def drain_naive() -> float:
        t0 = time.perf_counter()
        naive_drainer = spawn(
            [sys.executable, str(ROOT / "bench" / "naive" / "relay.py")],
            {**backend.naive_env, "NAIVE_PROJECT": drain_project},
            "naive-drain",
        )
        stack.procs.append(naive_drainer)
        wait_until(lambda: naive_out.count >= backlog, 600, 0.1)
        elapsed = time.perf_counter() - t0
        naive_drainer.stop()
        stack.procs.remove(naive_drainer)
        return elapsed

    # one drains at a time (each alone on the box); who goes first flips with --runs rounds
    if ctx.round % 2 == 0:
        ours_s, naive_s = drain_ours(), drain_naive()
    else:
        naive_s, ours_s = drain_naive(), drain_ours()
    ours_rate, naive_rate = backlog / ours_s, backlog / naive_s
    report.extra["drain"] = {
        "messages": backlog,
        "ours_s": ours_s,
        "naive_s": naive_s,
        "alerts": ours_out.count,
        "mix": "70% sub-task, 20% CIH, 10% Adobe",
        "normaliser_peak_rss_mib": drainer_rss,
    }
    report.add(
        Row(
            "normaliser drain (msg/s)",
            ours_rate,
            naive_rate,
            "msg/s",
            ">= 0.6",
            ratio(ours_rate, naive_rate) >= 0.6,
            f"{backlog:,} msgs, 70/20/10 sub-task/CIH/Adobe",
        )
    )
    ours_out.close()
    naive_out.close()
