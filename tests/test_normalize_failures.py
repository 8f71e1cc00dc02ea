"""Every message the normaliser takes ends somewhere with a reason: payloads the adapters
cannot handle are dead-lettered at once, keys that would be too long are bounded, and an
unexpected exception is retried only until Pub/Sub's last delivery attempt, then
dead-lettered ``normalize_failed`` with its type. Through the functions-framework app of
target ``normalize``, on the Pub/Sub emulator."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import functions_framework
import pytest

from alertbridge import sources as adapters
from alertbridge.alert import DEDUP_KEY_MAX
from alertbridge.runtime import Runtime
from alertbridge.sources.adobe import SPEC as ADOBE_SPEC
from alertbridge.sources.informatica import adapter as informatica
from conftest import ROOT, TopicWatch

SOURCES = ROOT / "functions" / "alertbridge" / "sources"
ADOBE = json.loads((SOURCES / "adobe" / "samples" / "flow_runs.json").read_text())
CIH = json.loads((SOURCES / "informatica" / "samples" / "events.json").read_text())
CE_HEADERS = {
    "ce-specversion": "1.0",
    "ce-id": "42",
    "ce-time": "2026-11-25T00:00:00Z",
    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    "ce-source": "//pubsub.googleapis.com/projects/p/topics/alertbridge-ingest",
}
SECRET_IN_MESSAGE = "password=hunter2-do-not-log"


@pytest.fixture
def normalize_client(runtime: Runtime) -> Any:
    app = functions_framework.create_app(
        target="normalize", source=str(ROOT / "functions" / "main.py")
    )
    return app.test_client()


def attrs(source: str, request_id: str = "req-1") -> dict[str, str]:
    return {
        "source": source,
        "request_id": request_id,
        "tenant_id": "4242",
        "received_at": "2026-11-25T00:00:01Z",
        "content_type": "application/json",
    }


def push(
    client: Any,
    data: bytes,
    attributes: dict[str, str],
    attempt: int | None = None,
    binary: bool = True,
    message_id: str = "42",
) -> Any:
    """What Pub/Sub pushes (raw) or Eventarc delivers (binary CloudEvent); with a
    dead-letter policy both carry ``deliveryAttempt`` next to the message."""
    body: dict[str, Any] = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": "2026-11-25T00:00:00Z",
        },
        "subscription": "projects/p/subscriptions/alertbridge-normalize",
    }
    if attempt is not None:
        body["deliveryAttempt"] = attempt
    return client.post("/", json=body, headers=CE_HEADERS if binary else {})


def failed_cih_event(topic: str) -> dict[str, Any]:
    event = copy.deepcopy(CIH[0]["event"])
    event.update(topicName=topic, eventStatus="Error", childEvents=[])
    return event


def test_cih_event_with_a_300_character_topic_pages_under_a_bounded_deterministic_key(
    normalize_client: Any, watch: Any, dead_letters: TopicWatch, state: Any
) -> None:
    # ``state``: CIH is run-ordered, so the normaliser needs the store (the Firestore
    # emulator); without the fixture this test passed only after one that started it.
    acme: TopicWatch = watch("alerts-4242")
    long_topic = "Orders_" + "x" * 293
    other_topic = "Orders_" + "x" * 292 + "y"  # same readable prefix, different topic
    for index, topic in enumerate([long_topic, long_topic, other_topic]):
        data = json.dumps(failed_cih_event(topic)).encode()
        response = push(normalize_client, data, attrs(informatica.SOURCE, f"req-{index}"))
        assert response.status_code == 200, response.get_data(as_text=True)
    landed = [m.json() for m in acme.pull(3)]
    keys = [alert["dedup_key"] for alert in landed]
    assert len(keys) == 3 and all(len(key) <= DEDUP_KEY_MAX for key in keys)
    assert keys[0] == keys[1] != keys[2]  # deterministic, and distinct topics stay distinct
    assert keys[0].startswith("informatica.cih:4242:DI_App:Orders_xxx")
    assert landed[0]["labels"]["topic"].startswith("Orders_xxx")
    assert dead_letters.quiet(1.0) == []


@pytest.mark.parametrize("value", ["oops", ["a"], 7], ids=["string", "list", "number"])
@pytest.mark.parametrize(
    ("shape", "where"),
    [
        ("success", ("event", "header")),
        ("failure", ("value", "metrics", "durationSummary")),
        ("failure", ("value", "metrics", "statusSummary")),
        ("failure", ("value", "metrics", "fileSummary")),
        ("failure", ("value", "activities", 0, "fileSummary")),
        ("failure", ("value", "activities", 0, "statusSummary")),
    ],
)
def test_adobe_payload_with_a_non_object_section_is_dead_lettered_unparseable_at_once(
    normalize_client: Any,
    watch: Any,
    dead_letters: TopicWatch,
    shape: str,
    where: tuple[Any, ...],
    value: Any,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    payload = copy.deepcopy(ADOBE["success"] if shape == "success" else ADOBE["failure"][0])
    node = payload["messages"][0] if shape == "failure" else payload
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    data = json.dumps(payload).encode()
    response = push(normalize_client, data, attrs(ADOBE_SPEC.name), attempt=1)
    assert response.status_code == 200, response.get_data(as_text=True)
    (dead,) = dead_letters.pull(1)
    assert dead.data == data  # the sender's bytes, untouched
    assert dead.attributes["dead_letter_reason"] == "unparseable"
    assert where[-1] in dead.attributes["dead_letter_detail"]
    assert "object" in dead.attributes["dead_letter_detail"]
    assert acme.quiet(1.0) == []


@pytest.mark.parametrize("binary", [True, False], ids=["eventarc-cloudevent", "raw-push"])
def test_unexpected_exception_is_retried_until_the_last_attempt_then_dead_lettered_with_its_type(
    normalize_client: Any, runtime: Runtime, watch: Any, dead_letters: TopicWatch, binary: bool
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    calls: list[str] = []

    def explode(envelope: Any, tenants: Any) -> list[Any]:
        calls.append(envelope.request_id)
        raise RuntimeError(f"adapter bug with {SECRET_IN_MESSAGE}")

    adapters.register("test.explode", explode)
    try:
        data = b'{"any": "bytes"}'
        limit = runtime.settings.max_delivery_attempts
        assert limit == 5  # the Terraform dead-letter policy's default
        for attempt in range(1, limit):
            response = push(normalize_client, data, attrs("test.explode"), attempt, binary)
            assert response.status_code == 500  # not acknowledged: Pub/Sub redelivers
        assert dead_letters.quiet(0.5) == []
        response = push(normalize_client, data, attrs("test.explode"), limit, binary)
        assert response.status_code == 200, response.get_data(as_text=True)
        (dead,) = dead_letters.pull(1)
        assert calls == ["req-1"] * limit
        assert dead.data == data
        assert dead.attributes["dead_letter_reason"] == "normalize_failed"
        assert dead.attributes["failed_stage"] == "normalize"
        assert dead.attributes["original_message_id"] == "42"
        detail = dead.attributes["dead_letter_detail"]
        assert detail.startswith("RuntimeError") and f"after {limit} delivery attempts" in detail
        assert SECRET_IN_MESSAGE not in detail and "hunter2" not in detail
        assert acme.quiet(0.5) == []
    finally:
        adapters.unregister("test.explode")


def test_without_a_delivery_attempt_an_unexpected_exception_is_only_retried(
    normalize_client: Any, dead_letters: TopicWatch
) -> None:
    """A subscription without a dead-letter policy sends no attempt count: the normaliser
    cannot know it is the last, so it leaves the message to Pub/Sub's retries."""

    def explode(envelope: Any, tenants: Any) -> list[Any]:
        raise RuntimeError("adapter bug")

    adapters.register("test.explode", explode)
    try:
        response = push(normalize_client, b"{}", attrs("test.explode"))
        assert response.status_code == 500
        assert dead_letters.quiet(0.5) == []
    finally:
        adapters.unregister("test.explode")
