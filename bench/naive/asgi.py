"""The naive function on uvicorn as well: publish the raw body and await the future on the
event loop. Not the issue's baseline (that is ``main.py``'s ``publish``, functions-framework's
default Flask server); measured beside it so the ingress row can also be read against a
naive function on the same server alertbridge now deploys. A file of its own, so the naive
publisher's cold start does not pay for starlette."""

from __future__ import annotations

import asyncio
import os

import functions_framework.aio
from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]
from starlette.requests import Request

_publisher = pubsub_v1.PublisherClient(
    batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.001)
)
_topic = _publisher.topic_path(
    os.environ["NAIVE_PROJECT"], os.environ.get("NAIVE_TOPIC", "naive-in")
)


@functions_framework.aio.http
async def publish_asgi(request: Request) -> tuple[str, int]:
    body = await request.body()
    message_id = await asyncio.wait_for(asyncio.wrap_future(_publisher.publish(_topic, body)), 10)
    return message_id, 202
