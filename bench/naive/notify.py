"""The naive pipeline's extra relay hop for the PagerDuty row: every message on the output
topic is posted to the receiver as an Events v2 trigger, then acked. Nothing else: no page-
once record, no lease, no retry, no dead letter (what alertbridge's notifier adds)."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import requests
import requests.adapters
from google.cloud import pubsub_v1  # type: ignore[attr-defined,unused-ignore]

project = os.environ["NAIVE_PROJECT"]
url = os.environ["NAIVE_RECEIVER_URL"]
subscriber = pubsub_v1.SubscriberClient()
subscription = subscriber.subscription_path(project, os.environ.get("NAIVE_SUB", "naive-notify"))
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))


def notify(message: Any) -> None:
    event = {
        "routing_key": "naive",
        "event_action": "trigger",
        "payload": {
            "summary": "naive relay",
            "source": "naive",
            "severity": "error",
            "custom_details": json.loads(message.data),
        },
    }
    if session.post(url, json=event, timeout=10).status_code < 300:
        message.ack()
    else:
        message.nack()


future = subscriber.subscribe(
    subscription, notify, flow_control=pubsub_v1.types.FlowControl(max_messages=500)
)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
future.cancel()
