"""The Pub/Sub seam: one publisher client per process, emulator-aware.

``google.cloud.pubsub`` is imported lazily so a function that never publishes (the
token endpoint) does not pay ~0.35 s of cold start for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]


# Pub/Sub's limits (cloud.google.com/pubsub/quotas): an attribute value or an ordering key
# of at most 1,024 bytes, a Publish request of at most 10 MB and 1,000 messages.
ATTRIBUTE_VALUE_MAX_BYTES = 1024
MAX_REQUEST_BYTES = 10_000_000


def bounded_attribute(value: str, limit: int = ATTRIBUTE_VALUE_MAX_BYTES) -> str:
    """``value`` cut to ``limit`` UTF-8 bytes on a character boundary: Pub/Sub counts bytes,
    and one value over the limit fails the whole Publish request it travels in."""
    if value.isascii() and len(value) <= limit:  # the common case: one byte a character
        return value
    raw = value.encode("utf-8", "replace")  # a lone surrogate is not UTF-8: "?"
    if len(raw) <= limit:
        return raw.decode("utf-8")
    return raw[:limit].decode("utf-8", "ignore")  # drops only a cut trailing character


def bounded_attributes(attributes: Mapping[str, str]) -> Mapping[str, str]:
    """Every value within Pub/Sub's limit (the same mapping when all already are)."""
    if all(v.isascii() and len(v) <= ATTRIBUTE_VALUE_MAX_BYTES for v in attributes.values()):
        return attributes
    return {k: bounded_attribute(v) for k, v in attributes.items()}


class PublishError(Exception):
    """Pub/Sub did not confirm the publish in time; the caller must not report success."""


class MessageTooLarge(PublishError):
    """One message that no Publish request can carry (over 10 MB with its attributes)."""


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    data: bytes
    attributes: Mapping[str, str]
    ordering_key: str = ""


def _emulator_channel(host: str) -> Any:
    import grpc

    return grpc.insecure_channel(host)


def make_publisher_client(
    emulator_host: str | None, max_latency_s: float = 0.001, ordering: bool = True
) -> pubsub_v1.PublisherClient:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    kwargs: dict[str, Any] = {}
    if emulator_host:
        kwargs["transport"] = PublisherGrpcTransport(channel=_emulator_channel(emulator_host))
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=max_latency_s),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=ordering),
        **kwargs,
    )


def make_subscriber_client(emulator_host: str | None) -> pubsub_v1.SubscriberClient:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    kwargs: dict[str, Any] = {}
    if emulator_host:
        kwargs["transport"] = SubscriberGrpcTransport(channel=_emulator_channel(emulator_host))
    return pubsub_v1.SubscriberClient(**kwargs)


def _framed(size: int) -> int:
    """Bytes a length-delimited protobuf field of ``size`` bytes takes: tag, length, body."""
    return 1 + (size.bit_length() + 6) // 7 + size if size else 2


def _refused_as_invalid(exc: BaseException) -> bool:
    """Pub/Sub refuses a whole request with INVALID_ARGUMENT for one bad message in it."""
    from google.api_core import exceptions as gexc

    return isinstance(exc, gexc.InvalidArgument)


class KeyedBatcher:
    """Batches messages with *different* ordering keys into one Publish RPC.

    google-cloud-pubsub batches only per ordering key, so a normaliser publishing one alert
    per dedup key sends one RPC per alert. The Pub/Sub API itself accepts many keys in one
    request and keeps per-key order within it; one flusher thread sends batches in the order
    messages were handed in, so per-key order across batches holds too. A request stays
    under Pub/Sub's 10 MB (attributes and ordering keys counted) as well as ``max_messages``;
    a message no request can carry fails on its own future and is never sent.
    """

    def __init__(
        self,
        client: Any,
        max_messages: int = 500,
        max_bytes: int = MAX_REQUEST_BYTES,
        max_latency_s: float = 0.002,
        timeout_s: float = 5.0,
        retry: Any = None,
    ) -> None:
        import queue

        from google.pubsub_v1 import types as gapic_types

        self._api = client.api
        self._raw_message = gapic_types.PubsubMessage.pb()
        self._raw_request = gapic_types.PublishRequest.pb()
        self._wrap_request = gapic_types.PublishRequest.wrap
        self._queue: queue.Queue[tuple[str, Any, Future[str]]] = queue.Queue()
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._max_latency_s = max_latency_s
        self._timeout_s = timeout_s
        self._retry = retry
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="keyed-batcher")
        self._thread.start()

    def publish(
        self, topic: str, data: bytes, attributes: Mapping[str, str], ordering_key: str
    ) -> Future[str]:
        future: Future[str] = Future()
        # The raw protobuf class, not the proto-plus wrapper: proto-plus marshals field by
        # field in Python (it showed as ~7 % of an ingress profile); google-cloud-pubsub's
        # own publisher builds its messages the same way.
        message = self._raw_message(data=data, attributes=attributes, ordering_key=ordering_key)
        size = _framed(message.ByteSize()) + _framed(len(topic.encode()))
        if size > self._max_bytes:  # fails alone, before it can share a request
            future.set_exception(
                MessageTooLarge(
                    f"message too large for one Publish: {size} bytes with its attributes "
                    f"(the limit is {self._max_bytes})"
                )
            )
            return future
        self._queue.put((topic, message, future))
        return future

    def _run(self) -> None:
        import queue
        import time

        while not self._stopped.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self._max_latency_s
            while len(batch) < self._max_messages:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(
                        self._queue.get(timeout=max(remaining, 0))
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
            by_topic: dict[str, list[tuple[Any, Future[str]]]] = {}
            for topic, message, future in batch:
                by_topic.setdefault(topic, []).append((message, future))
            for topic, items in by_topic.items():
                for chunk in self._chunks(topic, items):
                    self._send(topic, chunk)

    def _chunks(
        self, topic: str, items: list[tuple[Any, Future[str]]]
    ) -> list[list[tuple[Any, Future[str]]]]:
        """Consecutive runs of ``items`` whose Publish request stays under the byte limit
        (order kept, so per-key order holds across the requests)."""
        overhead = _framed(len(topic.encode()))
        chunks: list[list[tuple[Any, Future[str]]]] = [[]]
        size = overhead
        for item in items:
            framed = _framed(item[0].ByteSize())
            if chunks[-1] and size + framed > self._max_bytes:
                chunks.append([])
                size = overhead
            chunks[-1].append(item)
            size += framed
        return chunks

    def _send(self, topic: str, items: list[tuple[Any, Future[str]]]) -> None:
        """One Publish RPC; every waiter gets its id or the failure, and nothing that goes
        wrong here may stop the flusher thread (publishers would hang until their timeout)."""
        try:
            request = self._raw_request(topic=topic, messages=[m for m, _ in items])
            response = self._api.publish(
                request=self._wrap_request(request),
                retry=self._retry,
                timeout=self._timeout_s,
            )
            ids = list(response.message_ids)
            if len(ids) != len(items):
                raise RuntimeError(f"Pub/Sub returned {len(ids)} ids for {len(items)} messages")
        except Exception as exc:
            if len(items) > 1 and _refused_as_invalid(exc):
                for item in items:  # one bad message fails alone, not its neighbours
                    self._send(topic, [item])
                return
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), message_id in zip(items, ids, strict=True):
            if not future.done():
                future.set_result(message_id)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


# The Pub/Sub emulator (0.8.20) starts a thread pool for every ordering key an ordered
# subscription sees and never stops it: 2,000 distinct dedup keys left 2,000 threads, a 20,000-
# message bench 15,000 threads and a load average of 1,800 on a 2-core box. Against the
# emulator only, ordering keys are folded into this many buckets (env overrides; 0 = off).
EMULATOR_ORDERING_BUCKETS = 64
BUCKET_PREFIX = "alertbridge-bucket-"


def ordering_key_for(key: str, buckets: int) -> str:
    """The Pub/Sub ordering key a message is published with. In production (``buckets`` 0)
    the dedup key itself: each incident in order, incidents in parallel. With buckets, a
    stable hash of it: the same incident always lands in the same bucket, so its order
    still holds; unrelated incidents sharing a bucket only wait on each other."""
    if not key or buckets <= 0 or key.startswith(BUCKET_PREFIX):  # a replay re-publishes it
        return key
    digest = hashlib.sha256(key.encode()).digest()
    return f"{BUCKET_PREFIX}{int.from_bytes(digest[:8], 'big') % buckets}"


def emulator_ordering_buckets(emulator_host: str | None) -> int:
    if not emulator_host:
        return 0
    raw = os.environ.get("ALERTBRIDGE_EMULATOR_ORDERING_BUCKETS", str(EMULATOR_ORDERING_BUCKETS))
    if not raw.strip().isdigit():
        raise ValueError(
            f"ALERTBRIDGE_EMULATOR_ORDERING_BUCKETS={raw!r}: must be a whole number >= 0"
        )
    return int(raw)


class Publisher:
    """Publishes and waits: a 2xx or an ack happens only after Pub/Sub confirmed."""

    def __init__(
        self,
        project_id: str,
        emulator_host: str | None = None,
        timeout_s: float = 5.0,
        max_latency_s: float = 0.001,
    ) -> None:
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry

        self.project_id = project_id
        self.timeout_s = timeout_s
        self.ordering_buckets = emulator_ordering_buckets(emulator_host)
        transient = (
            gexc.ServiceUnavailable,
            gexc.DeadlineExceeded,
            gexc.InternalServerError,
            gexc.Aborted,
            gexc.ResourceExhausted,
            gexc.Unknown,
        )
        retry = Retry(
            initial=0.05,
            maximum=1.0,
            multiplier=2.0,
            timeout=timeout_s,
            predicate=lambda e: isinstance(e, transient),
        )
        # Every publish goes through the keyed batcher: one long-lived flusher thread, one RPC
        # for many messages and ordering keys (measured faster than the client's own batching,
        # which starts a thread per batch and batches per ordering key only). The client
        # provides the transport and the admin calls.
        self._client = make_publisher_client(emulator_host, max_latency_s, ordering=False)
        self._batcher = KeyedBatcher(
            self._client, max_latency_s=max_latency_s, timeout_s=timeout_s, retry=retry
        )
        self._lock = threading.Lock()
        self._last_success: float | None = None
        self._last_failure: float | None = None

    @property
    def client(self) -> pubsub_v1.PublisherClient:
        return self._client

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project_id}/topics/{topic}"

    @property
    def last_success(self) -> float | None:
        return self._last_success

    @property
    def last_failure(self) -> float | None:
        return self._last_failure

    def publish_and_wait(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Publish every message and wait for all; raise PublishError if any failed or
        Pub/Sub did not confirm within the publish timeout."""

        try:
            return self.publish(messages).result(timeout=self.timeout_s + 1.0)
        except FutureTimeout as exc:
            raise self._not_confirmed() from exc

    async def publish_and_wait_async(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """``publish_and_wait`` for an event loop: the loop awaits the confirmation instead of
        a thread blocking on it (alertbridge/asgi.py)."""
        import asyncio

        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(self.publish(messages)), self.timeout_s + 1.0
            )
        except TimeoutError as exc:
            raise self._not_confirmed() from exc

    def _not_confirmed(self) -> PublishError:
        """The wait outlived the publish timeout (plus a second for the flusher)."""
        import time

        self._last_failure = time.time()
        return PublishError(f"no confirmation within {self.timeout_s + 1.0:g} s")

    def publish(self, messages: Sequence[OutgoingMessage]) -> Future[list[str]]:
        """Publish without waiting: the returned future resolves with every message id once
        Pub/Sub confirmed them all, or fails with PublishError if any failed. Its callbacks
        run on the batcher's flusher thread, so they must not block."""
        import time

        combined: Future[list[str]] = Future()
        futures = [self._submit(m) for m in messages]
        if not futures:
            combined.set_result([])
            return combined
        remaining = [len(futures)]
        lock = threading.Lock()

        def one_done(_: Future[str]) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            failure = next((f.exception() for f in futures if f.exception()), None)
            if isinstance(failure, MessageTooLarge):  # the message's fault, not Pub/Sub's
                combined.set_exception(failure)
            elif failure is not None:
                self._last_failure = time.time()
                error = PublishError(f"{type(failure).__name__}: {failure}")
                error.__cause__ = failure
                combined.set_exception(error)
            else:
                self._last_success = time.time()
                combined.set_result([f.result() for f in futures])

        for future in futures:
            future.add_done_callback(one_done)
        return combined

    def _submit(self, m: OutgoingMessage) -> Future[str]:
        return self._batcher.publish(
            self.topic_path(m.topic),
            m.data,
            bounded_attributes(m.attributes),
            bounded_attribute(ordering_key_for(m.ordering_key, self.ordering_buckets)),
        )

    def stop(self) -> None:
        self._batcher.stop()
        self._client.stop()


def ensure_topics(
    client: pubsub_v1.PublisherClient,
    project_id: str,
    topics: Iterable[str],
    retention_s: int | None = None,
) -> None:
    """Create topics; with ``retention_s`` they keep messages for replay by seek."""
    from google.api_core import exceptions as gexc
    from google.protobuf import duration_pb2

    for topic in topics:
        request: dict[str, Any] = {"name": f"projects/{project_id}/topics/{topic}"}
        if retention_s:
            request["message_retention_duration"] = duration_pb2.Duration(seconds=retention_s)
        with contextlib.suppress(gexc.AlreadyExists):
            client.create_topic(request=request)


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    project_id: str,
    name: str,
    topic: str,
    *,
    ordering: bool = False,
    ack_deadline_s: int = 30,
    filter_: str = "",
) -> str:
    from google.api_core import exceptions as gexc

    path = f"projects/{project_id}/subscriptions/{name}"
    request: dict[str, Any] = {
        "name": path,
        "topic": f"projects/{project_id}/topics/{topic}",
        "enable_message_ordering": ordering,
        "ack_deadline_seconds": ack_deadline_s,
    }
    if filter_:
        request["filter"] = filter_
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(request=request)
    return path
