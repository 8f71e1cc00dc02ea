"""2b. POST -> PagerDuty receiver (a local Events v2 capture in this process) at 100 req/s of
distinct failures (the issue's figure) and first at 50 req/s (what this 2-core box sustains with
both chains, both emulators and the paced client on it): alertbridge's one hop plus its
notifier (page-once record, lease, compare-and-set in Firestore) against the naive
two-stage pipeline plus one more relay hop that posts each message to the same receiver;
and the CPU per page of each chain, alone and with the emulators' share. Last, the
counterfactual: the same notifier with its page-once records in memory
(bench/notify_in_memory.py) at 100 req/s, set against the naive chain's figure at that rate
from the same run: what the state store's round trips cost."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from alertbridge.pubsub import ensure_subscription
from alertbridge.tenants import load_tenants
from alertbridge_dev.capture import Captured, CaptureServer, capture_env
from alertbridge_dev.worker import NOTIFY_ACK_DEADLINE_S, notify_subscription
from bench.arrivals import drain_markers, paced_latency
from bench.harness import ROOT, SUBTASK, Row, percentile, ratio, subtask_body
from bench.procs import Proc, spawn
from bench.stack import Context

RATES = (50, 100)


class ReceiverClock:
    """When each failure's page reached the receiver, keyed by the sender's jobId (ours
    carries it in custom_details.labels, the naive relay in custom_details itself)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self._lock = threading.Lock()
        self.server = CaptureServer(on_request=self._record).start()

    def _record(self, captured: Captured) -> None:
        now = time.perf_counter()
        details: Any = (captured.body or {}).get("payload", {}).get("custom_details", {})
        key = details.get("labels", {}).get("jobId") or details.get("jobId")
        if isinstance(key, str):
            with self._lock:
                self.arrived.setdefault(key, now)

    def close(self) -> None:
        self.server.stop()


def notifier_tenants(stack_tenants_file: Path, out: Path) -> Path:
    """The bench tenants with PagerDuty for tenant 4242, storms off: at 100 distinct
    failures a second the default storm policy would fold all but 20 a minute, and this
    row measures the page path, not folding."""
    data = yaml.safe_load(stack_tenants_file.read_text())
    for tenant in data["tenants"]:
        if tenant["id"] == "4242":
            tenant["notify"] = {
                "pagerduty": {"routing_key_env": "ACME_PAGERDUTY_ROUTING_KEY", "storm": None}
            }
    out.write_text(yaml.safe_dump(data))
    return out


STAGES = ("claim", "post", "record")  # logged as claim_ms, post_ms, record_ms


def page_stages(log: Path, offset: int) -> dict[str, float]:
    """p50 and p99 of each stage of the pages the notifier logged past ``offset`` of its log
    (its "notified" lines: the claim, the receiver's answer, the record after it)."""
    with log.open("rb") as lines:
        lines.seek(offset)
        chunk = lines.read()
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for raw in chunk.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("message") == "notified":
            for stage in STAGES:
                if isinstance(line.get(f"{stage}_ms"), int | float):
                    stages[stage].append(float(line[f"{stage}_ms"]))
    figures = {
        f"{stage}_p{pct}_ms": percentile(values, pct)
        for stage, values in stages.items()
        for pct in (50, 99)
    }
    return figures


def said(stages: dict[str, float]) -> str:
    return ", ".join(
        f"{stage} {stages[f'{stage}_p50_ms']:.1f}/{stages[f'{stage}_p99_ms']:.1f} ms"
        for stage in STAGES
    )


def box_cpu(chain_ms: float, figures: dict[str, float]) -> float:
    """CPU ms per page of a chain's processes plus both emulators' in the same phase."""
    return chain_ms + figures["pubsub_cpu_ms"] + figures["firestore_cpu_ms"]


def run(ctx: Context) -> None:
    stack, report, seconds = ctx.stack, ctx.report, ctx.seconds
    services, backend = stack.services(), stack.backend()
    print(f"2b. POST -> PagerDuty receiver, paced {RATES} req/s of distinct failures", flush=True)
    clock = ReceiverClock()
    tenants_file = notifier_tenants(
        stack.tenants_file, stack.tenants_file.with_name("tenants-notify.yaml")
    )
    notify_env = {
        **backend.ours_env,
        **capture_env(clock.server.url, load_tenants(tenants_file)),
        "ALERTBRIDGE_TENANTS_FILE": str(tenants_file),
    }
    ensure_subscription(
        backend.sub_admin, "bench-naive", "naive-notify", "naive-out", ack_deadline_s=60
    )

    def ordered_subscription(name: str) -> str:
        # the notifier's ordered subscription exists before the first POST (the worker would
        # make it on start, but a marker published before that would reach no subscription)
        return ensure_subscription(
            backend.sub_admin,
            "bench-ours",
            name,
            "alerts-4242",
            ordering=True,
            ack_deadline_s=NOTIFY_ACK_DEADLINE_S,
        )

    notify_path = ordered_subscription(notify_subscription("4242"))
    memory_path: str | None = None
    notifier = spawn(
        [sys.executable, "-m", "alertbridge_dev.cli", "worker", "--role", "notify"],
        notify_env,
        "ours-notify",
    )
    naive_notify = spawn(
        [sys.executable, str(ROOT / "bench" / "naive" / "notify.py")],
        {**backend.naive_env, "NAIVE_RECEIVER_URL": f"{clock.server.url}/v2/enqueue"},
        "naive-notify",
    )
    stack.procs += [notifier, naive_notify]
    in_memory: Proc | None = None
    tag = uuid.uuid4().hex[:6]
    ours_url, naive_url, auth = services.ours_url, services.naive_url, stack.auth
    try:
        # both chains are up (subscriptions made, imports done) once a marker came through
        warm = drain_markers([(naive_url + "/", {}, clock), (ours_url + SUBTASK, auth, clock)], tag)
        print(f"  both chains deliver (first marker pages after {warm:.1f} s)", flush=True)
        naive_procs = [services.naive, services.relay, naive_notify]
        # the emulators' JVMs on the same 2 cores: Pub/Sub's serves both chains, the
        # Firestore emulator only ours (in production a managed service, billed per call)
        emulators = {
            kind: Proc(process, f"{kind}-emulator")
            for kind, process in (
                ("pubsub", backend.pubsub.process),
                ("firestore", backend.firestore.process),
            )
            if process is not None
        }

        def cpu(procs: list[Proc]) -> float:
            return sum(p.cpu_seconds() for p in procs)

        def measure(side: str, rate: int, pager: Proc = notifier) -> tuple[dict[str, float], float]:
            """One paced phase through one chain; ``side`` "ours" or "memory" (alertbridge,
            with ``pager`` as its notifier) or "naive"."""
            ours = side != "naive"
            url, headers = (
                (ours_url + SUBTASK, {**auth, "Content-Type": "application/json"})
                if ours
                else (naive_url + "/", {"Content-Type": "application/json"})
            )
            procs = [services.ours, services.normalizer, pager] if ours else naive_procs
            offset = {"ours": 0, "naive": 0, "memory": 50_000}[side]  # own dedup keys
            before = cpu(procs)
            emulators_before = {kind: e.cpu_seconds() for kind, e in emulators.items()}
            log = pager.log_path
            logged = log.stat().st_size if ours and log is not None else 0
            figures = paced_latency(
                url,
                headers,
                # distinct failures: every request its own dedup key, across rates too, and
                # every one worth a page (msgCodes 1-16: the bench tenant maps 17 to a
                # warning, which PagerDuty's min_severity error rightly never pages)
                lambda i: json.dumps(
                    subtask_body(40_000_000 + 100_000 * rate + offset + i)
                    | {"jobId": f"job-pd-{side}{tag}-{rate}-{i}", "msgCode": 1 + i % 16}
                ),
                clock,
                lambda i: f"job-pd-{side}{tag}-{rate}-{i}",
                rate,
                seconds,
                settle_s=10,  # a page later than this after the last POST counts as lost
            )
            per_page = 1000 / max(figures["arrived"], 1.0)
            spent = per_page * (cpu(procs) - before)
            for kind, emulator in emulators.items():
                figures[f"{kind}_cpu_ms"] = per_page * (
                    emulator.cpu_seconds() - emulators_before[kind]
                )
            if ours and log is not None:
                stages = page_stages(log, logged)
                figures.update(stages)
                print(f"  {side} at {rate} req/s, per page p50/p99: {said(stages)}", flush=True)
            return figures, spent

        # alternate which chain goes first from one run to the next (drift lands on both);
        # a marker through both chains between runs, so a backlog is not the next one's
        order = ["naive", "ours"] if ctx.round % 2 == 0 else ["ours", "naive"]
        measured: dict[int, dict[str, tuple[dict[str, float], float]]] = {}
        for rate in RATES:
            measured[rate] = {side: measure(side, rate) for side in order}
            drain_markers(
                [(naive_url + "/", {}, clock), (ours_url + SUBTASK, auth, clock)],
                f"{tag}-after-{rate}",
            )
            # a page missing at the settle deadline may still come: late is not lost
            for side, (figures, _) in measured[rate].items():
                prefix = f"job-pd-{side}{tag}-{rate}-"
                came = sum(1 for key in list(clock.arrived) if key.startswith(prefix))
                figures["late"] = came - figures["arrived"]
                figures["never"] = figures["sent"] - figures["failed_posts"] - came
        # the counterfactual: the same notifier, its page-once records in memory, on an
        # ordered subscription of its own: on the stopped notifier's, the emulator keeps half
        # the ordering keys bound to that notifier's gone stream (so do re-made ones of the
        # same name), and their pages did not come within 200 s
        notifier.stop()
        memory_path = ordered_subscription(notify_subscription("4242") + "-memory")
        in_memory = spawn(
            [sys.executable, str(ROOT / "bench" / "notify_in_memory.py")],
            {**notify_env, "BENCH_NOTIFY_SUBSCRIPTION": memory_path},
            "ours-notify-memory",
        )
        stack.procs.append(in_memory)
        drain_markers([(ours_url + SUBTASK, auth, clock)], f"{tag}-memory")
        memory = measure("memory", 100, in_memory)
    finally:
        for proc in (notifier, naive_notify, in_memory):
            if proc is not None:
                proc.stop()
                stack.procs.remove(proc)
        clock.close()
        for path in (
            notify_path,
            memory_path,
            backend.sub_admin.subscription_path("bench-naive", "naive-notify"),
        ):
            if path is not None:
                backend.sub_admin.delete_subscription(subscription=path)
    report.extra["pagerduty"] = {
        rate: {"ours": sides["ours"][0], "naive": sides["naive"][0]}
        for rate, sides in measured.items()
    }
    report.extra["pagerduty"]["memory"] = memory[0]
    for rate, sides in measured.items():
        (ours, ours_cpu), (naive, naive_cpu) = sides["ours"], sides["naive"]
        report.add(
            Row(
                f"POST -> PagerDuty receiver p99 at {rate} req/s (ms)",
                ours["p99_ms"],
                naive["p99_ms"],
                "ms",
                "<= 1.0" if rate == 100 else "-",
                ratio(ours["p99_ms"], naive["p99_ms"]) <= 1.0 and ours["lost"] == 0,
                f"p50 {ours['p50_ms']:.0f} vs {naive['p50_ms']:.0f} ms; lost {ours['lost']:.0f}"
                f" (never {ours.get('never', 0):.0f}), failed posts {ours['failed_posts']:.0f}"
                f" vs {naive['failed_posts']:.0f};"
                " naive = two stages + one relay hop posting to the receiver",
            )
        )
        report.add(
            Row(
                f"CPU ms per page at {rate} req/s",
                ours_cpu,
                naive_cpu,
                "ms",
                "-",
                True,
                "ours: function + normaliser + notifier; naive: function + relay + notify relay",
            )
        )
        ours_box, naive_box = box_cpu(ours_cpu, ours), box_cpu(naive_cpu, naive)
        report.add(
            Row(
                f"CPU ms per page at {rate} req/s, emulators included",
                ours_box,
                naive_box,
                "ms",
                "-",
                True,
                f"emulators per page: Pub/Sub {ours['pubsub_cpu_ms']:.1f} vs"
                f" {naive['pubsub_cpu_ms']:.1f} ms, Firestore {ours['firestore_cpu_ms']:.1f} vs"
                f" {naive['firestore_cpu_ms']:.1f} ms; cores kept busy at {rate} req/s:"
                f" {ours_box * rate / 1000:.2f} vs {naive_box * rate / 1000:.2f} of 2",
            )
        )
    (figures, spent), (naive, naive_cpu) = memory, measured[100]["naive"]
    report.add(
        Row(
            "POST -> PagerDuty receiver p99 at 100 req/s, page-once records in memory (ms)",
            figures["p99_ms"],
            naive["p99_ms"],
            "ms",
            "-",
            figures["lost"] == 0,
            f"p50 {figures['p50_ms']:.0f} vs {naive['p50_ms']:.0f} ms; CPU {spent:.1f} vs"
            f" {naive_cpu:.1f} ms per page, emulators included"
            f" {box_cpu(spent, figures):.1f} vs {box_cpu(naive_cpu, naive):.1f}; the"
            " counterfactual: the notifier without Firestore, against the naive chain's"
            " phase at 100 req/s earlier in this run",
        )
    )
