"""The naive pipeline's second stage: republish every message unchanged, ack once published."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]

project = os.environ["NAIVE_PROJECT"]
publisher = pubsub_v1.PublisherClient(
    batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.001)
)
subscriber = pubsub_v1.SubscriberClient()
out_topic = publisher.topic_path(project, os.environ.get("NAIVE_OUT", "naive-out"))
subscription = subscriber.subscription_path(project, os.environ.get("NAIVE_SUB", "naive-relay"))


def relay(message: Any) -> None:
    publisher.publish(out_topic, message.data, **dict(message.attributes)).result(timeout=30)
    message.ack()


future = subscriber.subscribe(
    subscription, relay, flow_control=pubsub_v1.types.FlowControl(max_messages=500)
)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
future.cancel()
