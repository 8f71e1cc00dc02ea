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
from collections.abc import Iterator
from typing import Any

LATENCY_WINDOW = 2048
PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 2.0
PERCENTILES = (50, 90, 99)

COUNTS = (
    ("query_count", "Requests handled (operational endpoints excluded)"),
    ("bad_request_count", "Requests answered with a 4xx"),
    ("server_error_count", "Requests answered with a 5xx"),
)
# name -> (help, label names); exposed as Prometheus counters ``<name>_total``.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "published": ("Ingest messages published, by source", ("source",)),
    "rejected": ("Requests refused with a 4xx, by source", ("source",)),
    "dead_lettered": ("Messages dead-lettered, by source", ("source",)),
    "alerts_published": ("Alerts published to tenant topics", ("source", "status")),
    "notify_suppressed": (
        "Firing alerts not sent one by one, by reason (silence, storm)",
        ("reason",),
    ),
    "inline_fallbacks": (
        "Events the ingress left to the normaliser (adapter_error/failed/state)",
        ("reason",),
    ),
    "cih_polls": (
        "CIH poll rounds by tenant and outcome (ok/throttled/failed)",
        ("tenant", "outcome"),
    ),
}


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0
    rank = max(1, round(pct / 100 * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Metrics:
    """One per process; every route table of the process reports into it.

    Counts live in plain dicts under one lock; prometheus-client is imported only when
    ``/metrics/prometheus`` is scraped (a collector over these counts), which keeps it
    out of every function's cold start.
    """

    def __init__(self) -> None:
        self._latencies: deque[int] = deque(maxlen=LATENCY_WINDOW)
        self._lock = threading.Lock()
        self._counts = {name: 0 for name, _ in COUNTS}
        self._counters: dict[str, dict[tuple[str, ...], int]] = {name: {} for name in COUNTERS}
        self._registry: Any = None

    def count(self, name: str, *labels: str, amount: int = 1) -> None:
        """Add to counter ``name`` (one of COUNTERS) for these label values."""
        with self._lock:
            family = self._counters[name]
            family[labels] = family.get(labels, 0) + amount

    def observe(self, source: str, status: int, latency_ns: int) -> None:
        with self._lock:
            self._latencies.append(latency_ns)
            self._counts["query_count"] += 1
            if 400 <= status < 500:
                self._counts["bad_request_count"] += 1
                family = self._counters["rejected"]
                family[(source,)] = family.get((source,), 0) + 1
            elif status >= 500:
                self._counts["server_error_count"] += 1

    def latency_percentile(self, pct: float) -> int:
        with self._lock:
            values = sorted(self._latencies)
        return percentile(values, pct)

    def _state(self) -> tuple[list[int], dict[str, int], dict[str, dict[tuple[str, ...], int]]]:
        with self._lock:
            return (
                sorted(self._latencies),
                dict(self._counts),
                {name: dict(family) for name, family in self._counters.items()},
            )

    def snapshot(self) -> dict[str, Any]:
        values, counts, counters = self._state()
        out: dict[str, Any] = {
            f"request_latency_{pct}_percentile": percentile(values, pct) for pct in PERCENTILES
        }
        out.update(counts)
        for name in ("published", "rejected", "dead_lettered", "notify_suppressed"):
            out[name] = {labels[0]: value for labels, value in counters[name].items()}
        return out

    def prometheus(self) -> bytes:
        """The same figures in Prometheus text format, rendered by prometheus-client."""
        from prometheus_client import CollectorRegistry, generate_latest

        with self._lock:
            if self._registry is None:
                self._registry = CollectorRegistry(auto_describe=False)
                self._registry.register(_Collector(self))
        data: bytes = generate_latest(self._registry)
        return data


class _Collector:
    """A prometheus-client custom collector over a Metrics' counts (read at scrape time)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        values, counts, counters = self._metrics._state()
        for name, help_text in COUNTS:  # gauges named as in seed 001
            yield GaugeMetricFamily(name, help_text, value=counts[name])
        for pct in PERCENTILES:
            yield GaugeMetricFamily(
                f"request_latency_{pct}_percentile",
                f"{pct}th percentile request latency in nanoseconds",
                value=percentile(values, pct),
            )
        for name, (help_text, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, help_text, labels=list(label_names))
            for labels, value in sorted(counters[name].items()):
                family.add_metric(list(labels), value)
            yield family


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
    if needs_pubsub:
        checks: dict[str, Any] = {
            "tenants": {"ok": len(runtime.tenants) > 0, "count": len(runtime.tenants)}
        }
    else:  # the token function reads the service accounts only (auth/accounts.py)
        checks = {"accounts": {"ok": len(runtime.accounts) > 0, "count": len(runtime.accounts)}}
    checks["signing_keys"] = {"ok": runtime.keyring is not None}
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
