"""``alertbridge tail``: watch one tenant's alerts as they land (temporary subscription)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from alertbridge.pubsub import ensure_subscription, make_subscriber_client


def format_alert(data: bytes, attributes: dict[str, str]) -> str:
    try:
        alert = json.loads(data)
    except ValueError:
        return f"(not JSON) {data[:200]!r}"
    return (
        f"{alert.get('occurred_at', '?')} {alert.get('severity', '?').upper():8} "
        f"{alert.get('status', '?'):8} tenant={alert.get('tenant_id')} "
        f"source={alert.get('source')} {alert.get('summary')}  [dedup_key={alert.get('dedup_key')}"
        f" id={alert.get('id')}]"
    )


class Tail:
    """A subscription of our own on a topic, deleted when we stop."""

    def __init__(
        self, emulator_host: str | None, project: str, topic: str, filter_: str = ""
    ) -> None:
        self.subscriber = make_subscriber_client(emulator_host)
        self.project = project
        self.path = ensure_subscription(
            self.subscriber,
            project,
            f"tail-{topic}-{uuid.uuid4().hex[:8]}",
            topic,
            filter_=filter_,
            ordering=True,
        )
        self._future: Any = None

    def start(self, on_message: Callable[[bytes, dict[str, str]], None]) -> Tail:
        def callback(message: Any) -> None:
            on_message(message.data, dict(message.attributes))
            message.ack()

        self._future = self.subscriber.subscribe(self.path, callback)
        return self

    def wait(self, timeout: float | None = None) -> None:
        if self._future is not None:
            self._future.result(timeout=timeout)

    def close(self) -> None:
        if self._future is not None:
            self._future.cancel()
            with contextlib.suppress(Exception):
                self._future.result(timeout=5)
        try:
            self.subscriber.delete_subscription(subscription=self.path)
        finally:
            self.subscriber.close()
