"""The normaliser as a long-running streaming-pull subscriber (local stack, benchmarks).

In production Eventarc pushes each ingest message to the ``normalize`` function and
the subscription's dead-letter policy caps redelivery. Here the worker pulls, runs the
same steps as ``handle_message`` (plan, publish, settle), acks only once everything is
published, nacks on a transient failure, and dead-letters after ``max_delivery_attempts``
itself (the emulator does not enforce dead-letter policies).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alertbridge.logs import get_logger
from alertbridge.pipeline.deadletter import dead_letter_message
from alertbridge.pipeline.envelope import SLOW_PATH_FILTER, normalized_inline
from alertbridge.pipeline.normalize import (
    Plan,
    failure_detail,
    handle_message,
    plan_message,
    settle,
)
from alertbridge.pubsub import ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime
from alertbridge.vocabulary import Stage

log = get_logger(__name__)

NORMALIZE_SUBSCRIPTION = "alertbridge-normalize"


class AttemptCounter:
    """Delivery attempts per message id, bounded so it cannot grow without limit."""

    def __init__(self, limit: int = 100_000) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def bump(self, message_id: str) -> int:
        with self._lock:
            count = self._counts.pop(message_id, 0) + 1
            self._counts[message_id] = count
            while len(self._counts) > self._limit:
                self._counts.popitem(last=False)
            return count

    def forget(self, message_id: str) -> None:
        with self._lock:
            self._counts.pop(message_id, None)


Handler = Callable[[Runtime, bytes, dict[str, str], str | None], object]


class PullWorker:
    """Streaming pull on one or more subscriptions; ack only after ``handle`` returned."""

    stage: Stage = "normalize"

    def __init__(
        self,
        runtime: Runtime,
        subscriptions: list[str],
        handle: Handler,
        max_messages: int = 500,
        threads: int = 32,
    ) -> None:
        self.runtime = runtime
        self.subscriber = make_subscriber_client(runtime.emulator_host)
        self.subscriptions = subscriptions
        self.handle = handle
        self.attempts = AttemptCounter()
        self.max_messages = max_messages
        self.threads = threads
        self._futures: list[Any] = []

    def _callback(self, message: Any) -> None:
        attempt = message.delivery_attempt or self.attempts.bump(message.message_id)
        try:
            self.handle(self.runtime, message.data, dict(message.attributes), message.message_id)
        except Exception as exc:
            self._failed(message, exc, attempt)
            return
        self.attempts.forget(message.message_id)
        message.ack()

    def _failed(self, message: Any, exc: BaseException, attempt: int) -> None:
        """Redeliver (nack) until the last attempt, then dead-letter with the reason."""
        if attempt >= self.runtime.settings.max_delivery_attempts:
            self._give_up(message, exc, attempt)
            return
        log.warning(
            f"{self.stage} failed; will be redelivered",
            attempt=attempt,
            error=failure_detail(exc),
            request_id=message.attributes.get("request_id"),
        )
        message.nack()

    def _give_up(self, message: Any, exc: BaseException, attempt: int) -> None:
        detail = f"{failure_detail(exc)} (after {attempt} delivery attempts)"
        dead = dead_letter_message(
            self.runtime,
            message.data,
            dict(message.attributes),
            "normalize_failed" if self.stage == "normalize" else "notify_failed",
            detail,
            message.message_id,
            self.stage,
        )
        try:
            self.runtime.publisher.publish_and_wait([dead])
        except Exception:
            log.exception("dead-letter publish failed; message will be redelivered")
            message.nack()
            return
        log.error(
            "dead-lettered after repeated failures",
            attempt=attempt,
            request_id=message.attributes.get("request_id"),
        )
        self.attempts.forget(message.message_id)
        message.ack()

    def start(self) -> PullWorker:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]
        from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

        executor = ThreadPoolExecutor(max_workers=self.threads)
        for path in self.subscriptions:
            self._futures.append(
                self.subscriber.subscribe(
                    path,
                    self._callback,
                    flow_control=pubsub_v1.types.FlowControl(max_messages=self.max_messages),
                    scheduler=ThreadScheduler(executor),
                )
            )
            log.info(f"{self.stage} subscribed", subscription=path)
        return self

    def wait(self) -> None:
        for future in self._futures:
            future.result()

    def stop(self) -> None:
        for future in self._futures:
            future.cancel()
            with contextlib.suppress(Exception):
                future.result(timeout=10)
        self._futures = []
        self.subscriber.close()


class NormalizeWorker(PullWorker):
    """The normaliser: a callback thread plans a message (adapter, routing, run order) and
    hands its publish to the batcher without waiting; the ack (or the nack, or the dead
    letter after the last attempt) happens when Pub/Sub confirmed. A few callback threads
    then keep the batcher fed, where blocking callbacks needed ~100 and spent their time on
    lock churn."""

    stage: Stage = "normalize"

    def __init__(
        self,
        runtime: Runtime,
        subscription: str = NORMALIZE_SUBSCRIPTION,
        max_messages: int = 1000,
        threads: int = int(os.environ.get("ALERTBRIDGE_WORKER_THREADS", "16")),
    ) -> None:
        super().__init__(runtime, [], handle_message, max_messages, threads)
        # Confirmed (or failed) publishes wait here for a settler thread: a plain queue, where
        # a thread pool's submit made a future per message (2 % of the drain profile).
        self._settling: queue.SimpleQueue[tuple[Any, Plan, BaseException | None, int] | None] = (
            queue.SimpleQueue()
        )
        self._settlers = [
            threading.Thread(target=self._settle_loop, name=f"normalize-settle-{i}", daemon=True)
            for i in range(2)
        ]
        for thread in self._settlers:
            thread.start()
        self.subscription = ensure_subscription(
            self.subscriber,
            runtime.settings.project_id,
            subscription,
            runtime.settings.ingest_topic,
            ack_deadline_s=60,
            filter_=SLOW_PATH_FILTER,  # what the ingress normalised inline is not redone
        )
        self.subscriptions = [self.subscription]

    def _callback(self, message: Any) -> None:
        if normalized_inline(message.attributes):
            message.ack()  # the ingress published its alerts; the filter did not apply
            return
        attempt = message.delivery_attempt or self.attempts.bump(message.message_id)
        try:
            plan = plan_message(
                self.runtime, message.data, dict(message.attributes), message.message_id
            )

            def published(_: list[str] | None, failure: BaseException | None) -> None:
                self._settling.put((message, plan, failure, attempt))

            self.runtime.publisher.publish_then(plan.messages, published)
        except Exception as exc:
            self._failed(message, exc, attempt)

    def _settle_loop(self) -> None:
        """Off the batcher's flusher thread: failures may publish a dead letter and wait."""
        while (item := self._settling.get()) is not None:
            message, plan, failure, attempt = item
            try:
                if failure is not None:
                    self._failed(message, failure, attempt)
                    continue
                settle(self.runtime, plan)
                self.attempts.forget(message.message_id)
                message.ack()
            except Exception as exc:  # one message's trouble must not stop settling
                log.error("settling failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def stop(self) -> None:
        super().stop()
        for _ in self._settlers:
            self._settling.put(None)
        for thread in self._settlers:
            thread.join(timeout=30)


def notify_subscription(tenant_id: str) -> str:
    return f"alertbridge-notify-{tenant_id}"


# Above the notifier's total delivery budget (ALERTBRIDGE_NOTIFY_BUDGET, 50 s): Pub/Sub does
# not redeliver a message while its attempt may still be sending. Terraform sets the same.
NOTIFY_ACK_DEADLINE_S = 120


class NotifyWorker(PullWorker):
    """One ordered subscription per tenant topic whose tenant configured a destination."""

    stage: Stage = "notify"

    def __init__(
        self,
        runtime: Runtime,
        threads: int = int(os.environ.get("ALERTBRIDGE_NOTIFY_THREADS", "8")),
        sweep_every_s: float | None = None,
    ) -> None:
        from alertbridge.notify.handler import handle_alert

        super().__init__(runtime, [], handle_alert, max_messages=100, threads=threads)
        self.sweep_every_s = sweep_every_s or float(
            os.environ.get("ALERTBRIDGE_SWEEP_INTERVAL", "60")
        )
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None
        self.subscriptions = [
            ensure_subscription(
                self.subscriber,
                runtime.settings.project_id,
                notify_subscription(t.id),
                t.topic_name,
                ordering=True,
                ack_deadline_s=NOTIFY_ACK_DEADLINE_S,
            )
            for t in runtime.tenants
            if t.notify.configured or t.expectations
        ]

    def start(self) -> PullWorker:
        """Also run the notifier's tick every ``sweep_every_s`` (the local stand-in for
        Cloud Scheduler's alertbridge-tick: auto-resolve, silences ended, storms, expectations)."""
        super().start()
        if any(t.notify.configured or t.expectations for t in self.runtime.tenants):
            self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True)
            self._sweeper.start()
        return self

    def _sweep_loop(self) -> None:
        from alertbridge.expectations.check import check
        from alertbridge.notify.tick import tick

        while not self._stopping.wait(self.sweep_every_s):
            for name, step in (("notifier tick", tick), ("expectations check", check)):
                try:
                    step(self.runtime)
                except Exception as exc:  # the next tick tries again
                    log.warning(f"{name} failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def stop(self) -> None:
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=30)
        super().stop()
