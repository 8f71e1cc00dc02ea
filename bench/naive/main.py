"""The naive pipeline's HTTP stage: publish the raw body and wait for the future.

Everything that makes alertbridge correct is missing on purpose (no auth, no validation,
no envelope): this is the floor our ingress is measured against.
"""

from __future__ import annotations

import os

import functions_framework
from flask import Request
from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]

_publisher = pubsub_v1.PublisherClient(
    batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.001)
)
_topic = _publisher.topic_path(
    os.environ["NAIVE_PROJECT"], os.environ.get("NAIVE_TOPIC", "naive-in")
)


@functions_framework.http
def publish(request: Request) -> tuple[str, int]:
    message_id = _publisher.publish(_topic, request.get_data()).result(timeout=10)
    return message_id, 202


@functions_framework.http
def noop(request: Request) -> tuple[str, int]:
    return "ok", 200
