"""What an operator asks of every function: /health, /metrics, /metrics/prometheus.

In the spirit of the LiveRamp sidecar (seed 001): ``/health`` answers at once from the
last known state (200 ready, 503 starting or a dependency down), ``/metrics`` gives
request latency percentiles in nanoseconds with query and bad-request counts, and
``/metrics/prometheus`` the same through prometheus-client. A background probe keeps
the Pub/Sub state fresh so a slow dependency never slows the health check.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series add nothing here

LATENCY_WINDOW = 2048
PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 2.0
PERCENTILES = (50, 90, 99)


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0
    rank = max(1, round(pct / 100 * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Metrics:
    """One per process; every route table of the process reports into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._latencies: deque[int] = deque(maxlen=LATENCY_WINDOW)
        self._lock = threading.Lock()
        self._counts = {"query_count": 0, "bad_request_count": 0, "server_error_count": 0}
        for name, help_text in (
            ("query_count", "Requests handled (operational endpoints excluded)"),
            ("bad_request_count", "Requests answered with a 4xx"),
            ("server_error_count", "Requests answered with a 5xx"),
        ):
            Gauge(name, help_text, registry=self.registry).set_function(self._count_reader(name))
        self.published = Counter(
            "published",
            "Ingest messages published, by source",
            ["source"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "rejected",
            "Requests refused with a 4xx, by source",
            ["source"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "dead_lettered",
            "Messages dead-lettered, by source",
            ["source"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "alerts_published",
            "Alerts published to tenant topics",
            ["source", "status"],
            registry=self.registry,
        )
        for pct in PERCENTILES:
            gauge = Gauge(
                f"request_latency_{pct}_percentile",
                f"{pct}th percentile request latency in nanoseconds",
                registry=self.registry,
            )
            gauge.set_function(self._percentile_reader(pct))

    def _count_reader(self, name: str) -> Callable[[], float]:
        return lambda: float(self._counts[name])

    def _percentile_reader(self, pct: int) -> Callable[[], float]:
        return lambda: float(self.latency_percentile(pct))

    def observe(self, source: str, status: int, latency_ns: int) -> None:
        with self._lock:
            self._latencies.append(latency_ns)
            self._counts["query_count"] += 1
            if 400 <= status < 500:
                self._counts["bad_request_count"] += 1
            elif status >= 500:
                self._counts["server_error_count"] += 1
        if 400 <= status < 500:
            self.rejected.labels(source).inc()

    def latency_percentile(self, pct: float) -> int:
        with self._lock:
            values = sorted(self._latencies)
        return percentile(values, pct)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            values = sorted(self._latencies)
        out: dict[str, Any] = {
            f"request_latency_{pct}_percentile": percentile(values, pct) for pct in PERCENTILES
        }
        with self._lock:
            out.update(self._counts)
        for name, counter in (
            ("published", self.published),
            ("rejected", self.rejected),
            ("dead_lettered", self.dead_lettered),
        ):
            out[name] = _by_label(counter, "source")
        return out

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)


def _by_label(counter: Counter, label: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out[sample.labels[label]] = int(sample.value)
    return out


class Health:
    """Last known readiness; Pub/Sub reachability refreshed by a background probe."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.pubsub_ok: bool | None = None  # None: not probed yet (starting)
        self.pubsub_checked_at: float | None = None
        self.pubsub_error: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure_probe(self, runtime: Any) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, args=(runtime,), daemon=True, name="alertbridge-health-probe"
            )
            self._thread.start()

    def probe_once(self, runtime: Any) -> None:
        try:
            runtime.publisher.client.get_topic(
                topic=runtime.publisher.topic_path(runtime.settings.ingest_topic),
                timeout=PROBE_TIMEOUT_S,
                retry=None,
            )
        except Exception as exc:
            self.pubsub_ok, self.pubsub_error = False, type(exc).__name__
        else:
            self.pubsub_ok, self.pubsub_error = True, None
        self.pubsub_checked_at = time.time()

    def _run(self, runtime: Any) -> None:
        while not self._stop.is_set():
            self.probe_once(runtime)
            self._stop.wait(PROBE_INTERVAL_S)

    def stop(self) -> None:
        self._stop.set()


def report(runtime: Any, health: Health, needs_pubsub: bool) -> tuple[int, dict[str, Any]]:
    """(status, body) from last known state only; never blocks on a dependency."""
    checks: dict[str, Any] = {
        "tenants": {"ok": len(runtime.tenants) > 0, "count": len(runtime.tenants)},
        "signing_keys": {"ok": runtime.keyring is not None},
    }
    publisher = getattr(runtime, "_publisher", None)
    last_publish = (publisher.last_success or 0) if publisher is not None else 0
    if needs_pubsub:
        health.ensure_probe(runtime)
        reachable = health.pubsub_ok
        if reachable is None and last_publish and time.time() - last_publish < 30:
            reachable = True  # not probed yet, but a publish just succeeded
        checks["pubsub"] = {
            "ok": bool(reachable),
            "state": {None: "starting", True: "reachable", False: "unreachable"}[reachable],
            "checked_at": int(health.pubsub_checked_at or 0),
            **({"error": health.pubsub_error} if health.pubsub_error else {}),
        }
    keys_ttl = 0
    adobe_keys = getattr(runtime, "_adobe_keys", None)
    if adobe_keys is not None:
        expiry = adobe_keys.earliest_expiry()
        if expiry is not None:  # monotonic → wall clock
            keys_ttl = int(time.time() + (expiry - time.monotonic()))
    ready = all(check["ok"] for check in checks.values())
    starting = needs_pubsub and checks["pubsub"]["state"] == "starting"
    body = {
        "status": "ready" if ready else ("starting" if starting else "unavailable"),
        "last_successful_publish": int(last_publish or 0),
        "keys_ttl": keys_ttl,
        "started_at": int(health.started_at),
        "checks": checks,
    }
    return (200 if ready else 503), body
