"""The normaliser as Eventarc invokes it: a messagePublished CloudEvent over HTTP to the
functions-framework app of target `normalize`."""

from __future__ import annotations

import base64
import json
from typing import Any

import functions_framework
import pytest

from alertbridge.runtime import Runtime
from conftest import ROOT, TopicWatch, subtask_body


@pytest.fixture
def normalize_client(runtime: Runtime) -> Any:
    app = functions_framework.create_app(
        target="normalize", source=str(ROOT / "functions" / "main.py")
    )
    return app.test_client()


def pubsub_message(
    data: bytes, attributes: dict[str, str], message_id: str = "42"
) -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": "2026-11-25T00:00:00Z",
        },
        "subscription": "projects/p/subscriptions/eventarc-normalize",
    }


ATTRS = {
    "source": "liveramp.subtask",
    "request_id": "req-1",
    "tenant_id": "4242",
    "received_at": "2026-11-25T00:00:01Z",
    "content_type": "application/json",
}


def test_binary_cloudevent_from_eventarc_publishes_the_alert(
    normalize_client: Any, watch: Any
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    body = pubsub_message(json.dumps(subtask_body()).encode(), ATTRS)
    response = normalize_client.post(
        "/",
        json=body,
        headers={
            "ce-specversion": "1.0",
            "ce-id": "42",
            "ce-time": "2026-11-25T00:00:00Z",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-source": "//pubsub.googleapis.com/projects/p/topics/alertbridge-ingest",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    (landed,) = acme.pull(1)
    assert landed.json()["request_id"] == "req-1"


def test_raw_pubsub_push_is_accepted_too(normalize_client: Any, watch: Any) -> None:
    acme: TopicWatch = watch("alerts-4242")
    response = normalize_client.post(
        "/", json=pubsub_message(json.dumps(subtask_body()).encode(), ATTRS)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(acme.pull(1)) == 1


def test_unparseable_message_is_dead_lettered_and_acknowledged(
    normalize_client: Any, dead_letters: TopicWatch
) -> None:
    response = normalize_client.post(
        "/",
        json=pubsub_message(b'{"jobId": "nope"}', ATTRS),
        headers={
            "ce-specversion": "1.0",
            "ce-id": "43",
            "ce-source": "//pubsub",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        },
    )
    assert response.status_code == 200  # acknowledged: it is on the dead-letter topic
    (dead,) = dead_letters.pull(1)
    assert dead.data == b'{"jobId": "nope"}'
    assert dead.attributes["dead_letter_reason"] == "unparseable"
    assert "envId" in dead.attributes["dead_letter_detail"]
