"""The Pub/Sub seam: one publisher client per process, emulator-aware.

``google.cloud.pubsub`` is imported lazily so a function that never publishes (the
token endpoint) does not pay ~0.35 s of cold start for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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


class Publication:
    """One ``Publisher.publish`` call on its way: the flusher thread fills in each message's
    id, and the last one settles the call once (``on_settled(ids, None)`` or
    ``(None, failure)``, on the flusher thread). One object per call, touched by the flusher
    thread only, so no lock: a future per message with a lock and a callback each cost ~10 %
    of the normaliser's drain profile and ~8 % of the ingress's."""

    __slots__ = ("_failure", "_ids", "_on_settled", "_remaining")

    def __init__(
        self, count: int, on_settled: Callable[[list[str] | None, BaseException | None], None]
    ) -> None:
        self._ids: list[str] = [""] * count
        self._remaining = count
        self._failure: BaseException | None = None
        self._on_settled = on_settled

    def confirmed(self, index: int, message_id: str) -> None:
        self._ids[index] = message_id
        self._one_done()

    def failed(self, failure: BaseException) -> None:
        if self._failure is None:
            self._failure = failure
        self._one_done()

    def _one_done(self) -> None:
        self._remaining -= 1
        if self._remaining:
            return
        try:
            if self._failure is None:
                self._on_settled(self._ids, None)
            else:
                self._on_settled(None, self._failure)
        except Exception as exc:  # a waiter's fault must not stop the flusher thread
            from alertbridge.logs import get_logger

            get_logger(__name__).error(
                "a publish waiter's callback failed", error=f"{type(exc).__name__}: {exc}"[:300]
            )


_Item = tuple[Any, Publication, int]  # (raw message, its publication, its index there)


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
        self._queue: queue.SimpleQueue[tuple[str, Any, Publication, int]] = queue.SimpleQueue()
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._max_latency_s = max_latency_s
        self._timeout_s = timeout_s
        self._retry = retry
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="keyed-batcher")
        self._thread.start()

    def message(self, data: bytes, attributes: Mapping[str, str], ordering_key: str) -> Any:
        """The raw protobuf message, not the proto-plus wrapper: proto-plus marshals field by
        field in Python (it showed as ~7 % of an ingress profile); google-cloud-pubsub's own
        publisher builds its messages the same way."""
        return self._raw_message(data=data, attributes=attributes, ordering_key=ordering_key)

    def oversized(self, topic: str, message: Any) -> MessageTooLarge | None:
        """The error for a message no Publish request can carry, or None."""
        size = _framed(message.ByteSize()) + _framed(len(topic.encode()))
        if size <= self._max_bytes:
            return None
        return MessageTooLarge(
            f"message too large for one Publish: {size} bytes with its attributes "
            f"(the limit is {self._max_bytes})"
        )

    def enqueue(self, topic: str, message: Any, publication: Publication, index: int) -> None:
        """Hand one message of ``publication`` to the flusher thread (checked by
        ``oversized`` first: the batcher trusts its callers)."""
        self._queue.put((topic, message, publication, index))

    def _run(self) -> None:
        import queue

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
            by_topic: dict[str, list[_Item]] = {}
            for topic, message, publication, index in batch:
                by_topic.setdefault(topic, []).append((message, publication, index))
            for topic, items in by_topic.items():
                for chunk in self._chunks(topic, items):
                    self._send(topic, chunk)

    def _chunks(self, topic: str, items: list[_Item]) -> list[list[_Item]]:
        """Consecutive runs of ``items`` whose Publish request stays under the byte limit
        (order kept, so per-key order holds across the requests)."""
        overhead = _framed(len(topic.encode()))
        chunks: list[list[_Item]] = [[]]
        size = overhead
        for item in items:
            framed = _framed(item[0].ByteSize())
            if chunks[-1] and size + framed > self._max_bytes:
                chunks.append([])
                size = overhead
            chunks[-1].append(item)
            size += framed
        return chunks

    def _send(self, topic: str, items: list[_Item]) -> None:
        """One Publish RPC; every waiter gets its id or the failure, and nothing that goes
        wrong here may stop the flusher thread (publishers would hang until their timeout)."""
        try:
            request = self._raw_request(topic=topic, messages=[m for m, _, _ in items])
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
            for _, publication, _ in items:
                publication.failed(exc)
            return
        for (_, publication, index), message_id in zip(items, ids, strict=True):
            publication.confirmed(index, message_id)

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
        a thread blocking on it (alertbridge/asgi.py). The flusher thread settles an asyncio
        future directly (no concurrent future wrapped, no wait_for task)."""
        import asyncio

        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[str]] = loop.create_future()

        def settle(ids: list[str] | None, failure: BaseException | None) -> None:
            if not waiter.done():
                if failure is None:
                    waiter.set_result(ids or [])
                else:
                    waiter.set_exception(failure)

        def settled(ids: list[str] | None, failure: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, ids, failure)

        def expired() -> None:
            if not waiter.done():
                waiter.set_exception(self._not_confirmed())

        self.publish_then(messages, settled)
        timer = loop.call_later(self.timeout_s + 1.0, expired)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _not_confirmed(self) -> PublishError:
        """The wait outlived the publish timeout (plus a second for the flusher)."""
        self._last_failure = time.time()
        return PublishError(f"no confirmation within {self.timeout_s + 1.0:g} s")

    def publish(self, messages: Sequence[OutgoingMessage]) -> Future[list[str]]:
        """Publish without waiting: the returned future resolves with every message id once
        Pub/Sub confirmed them all, or fails with PublishError if any failed. Its callbacks
        run on the batcher's flusher thread, so they must not block."""
        combined: Future[list[str]] = Future()

        def settled(ids: list[str] | None, failure: BaseException | None) -> None:
            if failure is None:
                combined.set_result(ids or [])
            else:
                combined.set_exception(failure)

        self.publish_then(messages, settled)
        return combined

    def publish_then(
        self,
        messages: Sequence[OutgoingMessage],
        on_settled: Callable[[list[str] | None, BaseException | None], None],
    ) -> None:
        """Publish without waiting and call ``on_settled(ids, None)`` once Pub/Sub confirmed
        every message, or ``(None, PublishError)`` if any failed, on the flusher thread (it
        must not block). Every message is checked first: one no Publish can carry fails the
        call at once, on the caller's thread, before anything of it is sent (no partial
        publish)."""
        if not messages:
            on_settled([], None)
            return
        batcher = self._batcher
        prepared = []
        for m in messages:
            topic = self.topic_path(m.topic)
            message = batcher.message(
                m.data,
                bounded_attributes(m.attributes),
                bounded_attribute(ordering_key_for(m.ordering_key, self.ordering_buckets)),
            )
            too_large = batcher.oversized(topic, message)
            if too_large is not None:  # the message's fault, not Pub/Sub's
                on_settled(None, too_large)
                return
            prepared.append((topic, message))

        def settled(ids: list[str] | None, failure: BaseException | None) -> None:
            if failure is None:
                self._last_success = time.time()
                on_settled(ids, None)
            else:
                self._last_failure = time.time()
                error = PublishError(f"{type(failure).__name__}: {failure}")
                error.__cause__ = failure
                on_settled(None, error)

        publication = Publication(len(prepared), settled)
        for index, (topic, message) in enumerate(prepared):
            batcher.enqueue(topic, message, publication, index)

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
