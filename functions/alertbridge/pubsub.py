"""The Pub/Sub seam: one publisher client per process, emulator-aware.

``google.cloud.pubsub`` is imported lazily so a function that never publishes (the
token endpoint) does not pay ~0.35 s of cold start for it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]


class PublishError(Exception):
    """Pub/Sub did not confirm the publish in time; the caller must not report success."""


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


class Publisher:
    """Publishes and waits: a 2xx or an ack happens only after Pub/Sub confirmed."""

    def __init__(
        self,
        project_id: str,
        emulator_host: str | None = None,
        timeout_s: float = 5.0,
        max_latency_s: float = 0.001,
        ordering: bool = True,
    ) -> None:
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry

        self.project_id = project_id
        self.timeout_s = timeout_s
        self._client = make_publisher_client(emulator_host, max_latency_s, ordering=ordering)
        transient = (
            gexc.ServiceUnavailable,
            gexc.DeadlineExceeded,
            gexc.InternalServerError,
            gexc.Aborted,
            gexc.ResourceExhausted,
            gexc.Unknown,
        )
        self._retry = Retry(
            initial=0.05,
            maximum=1.0,
            multiplier=2.0,
            timeout=timeout_s,
            predicate=lambda e: isinstance(e, transient),
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
        """Publish every message and wait for all; raise PublishError if any failed."""
        import time

        retry = self._retry
        futures = [
            (
                m,
                self._client.publish(
                    self.topic_path(m.topic),
                    m.data,
                    ordering_key=m.ordering_key,
                    retry=retry,
                    timeout=self.timeout_s,
                    **dict(m.attributes),
                ),
            )
            for m in messages
        ]
        ids: list[str] = []
        failure: BaseException | None = None
        for message, future in futures:
            try:
                ids.append(future.result(timeout=self.timeout_s + 1.0))
            except (FutureTimeout, Exception) as exc:
                failure = failure or exc
                if message.ordering_key:
                    self._client.resume_publish(
                        self.topic_path(message.topic), message.ordering_key
                    )
        if failure is not None:
            self._last_failure = time.time()
            raise PublishError(f"{type(failure).__name__}: {failure}") from failure
        self._last_success = time.time()
        return ids

    def stop(self) -> None:
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
