"""When messages come out of a pipeline: a streaming pull that timestamps each key, and the
paced sender that sets it against the time each request was sent."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import requests
import requests.adapters

from alertbridge.pubsub import ensure_subscription, make_subscriber_client
from alertbridge_dev.emulator import wait_until
from bench.harness import percentile, subtask_body


class Arrivals(Protocol):
    """What the paced sender reads of a clock: when each key came out (perf_counter)."""

    arrived: dict[str, float]


class ArrivalClock:
    """Streaming pull on a topic, recording when each key arrives (key from the message)."""

    def __init__(
        self, emulator_host: str, project: str, topic: str, key: Callable[[bytes], str]
    ) -> None:
        self.subscriber = make_subscriber_client(emulator_host)
        self.path = ensure_subscription(
            self.subscriber, project, f"clock-{uuid.uuid4().hex[:6]}", topic
        )
        self.arrived: dict[str, float] = {}
        self.count = 0
        self._key = key
        self._lock = threading.Lock()

        def on_message(message: Any) -> None:
            now = time.perf_counter()
            try:
                key: str | None = self._key(message.data)
            except (KeyError, TypeError, ValueError):
                key = None  # not one of ours (e.g. a CIH alert from an earlier phase)
            with self._lock:
                self.count += 1
                if key is not None:
                    self.arrived.setdefault(key, now)
            message.ack()  # always: an unacked message would be redelivered and cost CPU

        self._future = self.subscriber.subscribe(self.path, on_message)

    def close(self) -> None:
        """Stop pulling and delete the subscription: left behind, it would keep every message
        later scenarios publish to the topic, on the emulator both chains share."""
        self._future.cancel()
        with contextlib.suppress(Exception):
            self._future.result(timeout=10)
        self.subscriber.delete_subscription(subscription=self.path)
        self.subscriber.close()


def every_message_key(data: bytes) -> str:
    """A key unique per delivery: the relay's output has no id of its own, every message counts."""
    return hashlib.sha256(data).hexdigest() + uuid.uuid4().hex


def drain_markers(
    pipelines: list[tuple[str, dict[str, str], Arrivals]], tag: str, timeout: float = 300
) -> float:
    """Send one marker through each pipeline and wait until every marker came out. Each
    tag gets its own dedup keys: a notifier pages an open incident once, so a marker that
    repeated an earlier one's key would never reach a receiver."""
    started = time.perf_counter()
    keys = []
    unique = 30_000_000 + 16 * (zlib.crc32(tag.encode()) % 500_000)
    for index, (url, headers, _clock) in enumerate(pipelines):
        key = f"job-marker{tag}-{index}"
        # msgCode 1: an error for every tenant (the bench tenant maps 17 to a warning, which
        # a PagerDuty destination rightly never pages)
        body = subtask_body(unique + index) | {"jobId": key, "msgCode": 1}
        requests.post(url, json=body, headers=headers, timeout=30).raise_for_status()
        keys.append(key)
    if not wait_until(
        lambda: all(k in c.arrived for k, (_, _, c) in zip(keys, pipelines, strict=True)),
        timeout,
        0.1,
    ):
        missing = [k for k, (_, _, c) in zip(keys, pipelines, strict=True) if k not in c.arrived]
        print(f"  WARNING: markers {missing} did not come out within {timeout:g} s", flush=True)
    return time.perf_counter() - started


def paced_latency(
    url: str,
    headers: dict[str, str],
    make_body: Callable[[int], Any],
    clock: Arrivals,
    key_of: Callable[[int], str],
    rate: int,
    seconds: float,
    settle_s: float = 30,
) -> dict[str, float]:
    total = int(rate * seconds)
    sent: dict[str, float] = {}
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    failures = 0

    def send(i: int) -> None:
        nonlocal failures
        body, key = make_body(i), key_of(i)
        sent[key] = time.perf_counter()
        try:
            response = session.post(url, data=body, headers=headers, timeout=10)
        except requests.RequestException as exc:  # e.g. a keep-alive the server had closed
            reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        else:
            if response.status_code < 300:
                return
            reason = f"{response.status_code} {response.text[:120]}"
        # never accepted: a failed post, not a lost alert (the sender would retry it)
        failures += 1
        sent.pop(key, None)
        print(f"  failed post to {url}: {reason}", flush=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i)
    # the clock may already hold keys of an earlier run: wait for this run's own keys
    accepted = total - failures
    wait_until(lambda: sum(1 for k in list(sent) if k in clock.arrived) >= accepted, settle_s, 0.05)
    latencies = [(clock.arrived[k] - t) * 1000 for k, t in sent.items() if k in clock.arrived]
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "sent": float(total),
        "arrived": float(len(latencies)),
        "lost": float(len(sent) - len(latencies)),
        "failed_posts": float(failures),
    }
