"""Pub/Sub's limits, on the emulator: attribute values of at most 1,024 bytes (cut on a UTF-8
boundary), Publish requests under 10 MB (split by bytes as well as by count), and a message
no Publish can carry failing its own call, never its neighbours in the batch (and no other
message of its call sent: no partial publish)."""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import Future
from typing import Any

import pytest

from alertbridge.pipeline.normalize import handle_message
from alertbridge.pubsub import (
    ATTRIBUTE_VALUE_MAX_BYTES,
    MAX_REQUEST_BYTES,
    OutgoingMessage,
    Publisher,
    PublishError,
    bounded_attribute,
)
from alertbridge.runtime import Runtime
from alertbridge_dev.adobe_keys import KeyServer, SigningKey, signed_headers
from conftest import ROOT, TopicWatch

ADOBE_PATH = "/adobe/v1/flow-run-notifications"
ADOBE = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)
MB = 1_000_000


def envelope_attrs(request_id: str, **extra: str) -> dict[str, str]:
    return {
        "source": "liveramp.subtask",
        "request_id": request_id,
        "tenant_id": "4242",
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
        **extra,
    }


def pull_all(watch: TopicWatch, count: int, timeout: float = 60.0) -> list[Any]:
    """Pull a few at a time: a pull response carrying many 1 MB messages would exceed the
    gRPC client's 4 MB receive limit."""
    deadline = time.monotonic() + timeout
    got: list[Any] = []
    while len(got) < count and time.monotonic() < deadline:
        response = watch.subscriber.pull(
            request={"subscription": watch.path, "max_messages": 2}, timeout=10
        )
        got.extend(item.message for item in response.received_messages)
        if response.received_messages:
            watch.subscriber.acknowledge(
                request={
                    "subscription": watch.path,
                    "ack_ids": [i.ack_id for i in response.received_messages],
                }
            )
    return got


def test_bounded_attribute_cuts_on_a_utf8_boundary() -> None:
    assert bounded_attribute("short") == "short"
    for char in ("é", "€", "𝄞"):  # 2, 3 and 4 bytes
        cut = bounded_attribute(char * 2000)
        raw = cut.encode("utf-8")
        assert len(raw) <= ATTRIBUTE_VALUE_MAX_BYTES and len(raw) > ATTRIBUTE_VALUE_MAX_BYTES - 4
        assert set(cut) == {char}
    assert bounded_attribute("\udcff" + "x" * 5) == "?xxxxx"  # a lone surrogate is not UTF-8


def test_a_backlog_of_1mb_messages_is_split_under_10mb_per_publish_and_all_land(
    runtime: Runtime, ingest: TopicWatch
) -> None:
    """15 messages of ~1 MB handed in at once: one Publish would be 15 MB (the emulator, like
    Pub/Sub, does not take it: the whole batch timed out); split by bytes, every one lands.
    A publisher of its own with a roomy timeout: 15 MB is slow on a loaded machine."""
    count = 15
    messages = [
        OutgoingMessage(
            runtime.settings.ingest_topic,
            bytes([65 + i]) * MB,
            envelope_attrs(f"big-{i}", note="ü" * 600),
            ordering_key=f"key-{i % 3}",
        )
        for i in range(count)
    ]
    publisher = Publisher(runtime.settings.project_id, runtime.emulator_host, timeout_s=60.0)
    try:
        started = time.monotonic()
        ids = publisher.publish_and_wait(messages)
        elapsed = time.monotonic() - started
    finally:
        publisher.stop()
    assert len(set(ids)) == count
    landed = pull_all(ingest, count)
    assert sorted(m.data[:1] for m in landed) == sorted(bytes([65 + i]) for i in range(count))
    assert all(len(m.data) == MB for m in landed)
    note = landed[0].attributes["note"]
    assert len(note.encode()) <= ATTRIBUTE_VALUE_MAX_BYTES and set(note) == {"ü"}
    print(f"{count} x 1 MB published in {elapsed:.2f} s")


def test_a_call_with_one_message_no_publish_can_carry_sends_none_of_its_messages(
    runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    """The ingress publishes a raw event and its alerts in one call: if one of them can never
    be sent, none is (no alert on the tenant topic without its raw copy), and the call fails
    at once with the reason."""
    acme = watch("alerts-4242")
    call = runtime.publisher.publish(
        [
            OutgoingMessage("alerts-4242", b'{"an": "alert"}', {"tenant_id": "4242"}),
            OutgoingMessage(
                runtime.settings.ingest_topic, b"x" * (11 * MB), envelope_attrs("too-big")
            ),
        ]
    )
    with pytest.raises(PublishError, match="too large"):
        call.result(timeout=2)
    marker = runtime.publisher.publish_and_wait(
        [OutgoingMessage("alerts-4242", b'{"marker": 1}', {"tenant_id": "4242"})]
    )
    got = acme.pull_until(lambda r: any(m.data == b'{"marker": 1}' for m in r))
    assert [m.data for m in got] == [b'{"marker": 1}'] and len(marker) == 1
    assert ingest.quiet(0.5) == []


def test_a_call_with_a_message_that_cannot_be_encoded_raises_and_sends_nothing(
    runtime: Runtime, watch: Any
) -> None:
    """A message that cannot even be built (an attribute value that is not a string) raises
    to the caller before any message of its call is handed to the batcher."""
    acme = watch("alerts-4242")
    bad: Any = {"tenant_id": 4242}
    with pytest.raises((TypeError, AttributeError)):
        runtime.publisher.publish(
            [
                OutgoingMessage("alerts-4242", b'{"first": 1}', {"tenant_id": "4242"}),
                OutgoingMessage("alerts-4242", b'{"second": 2}', bad),
            ]
        )
    runtime.publisher.publish_and_wait(
        [OutgoingMessage("alerts-4242", b'{"marker": 1}', {"tenant_id": "4242"})]
    )
    got = acme.pull_until(lambda r: any(m.data == b'{"marker": 1}' for m in r))
    assert [m.data for m in got] == [b'{"marker": 1}']


def test_a_waiter_whose_callback_fails_does_not_stop_later_publishes(runtime: Runtime) -> None:
    """``publish_then`` runs its callback on the flusher thread; a callback that raises is
    logged and the flusher goes on (every later caller would otherwise hang to its timeout)."""
    called: list[list[str] | None] = []

    def broken(ids: list[str] | None, failure: BaseException | None) -> None:
        called.append(ids)
        raise RuntimeError("the waiter is gone")

    message = OutgoingMessage("alerts-4242", b"{}", {"tenant_id": "4242"})
    runtime.publisher.publish_then([message], broken)
    ids = runtime.publisher.publish_and_wait([message, message])
    assert len(ids) == 2 and len(called) == 1 and called[0] is not None


def test_a_message_no_publish_can_carry_fails_alone_while_its_neighbours_land(
    runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    """Other tenants' messages handed in around an 11 MB one, on the same topic and on
    others: they land; the big one's own future fails at once with a clear error."""
    acme = watch("alerts-4242")
    publisher = runtime.publisher
    small = [
        OutgoingMessage(runtime.settings.ingest_topic, b"{}", envelope_attrs(f"small-{i}"))
        for i in range(20)
    ]
    futures: list[Future[list[str]]] = [publisher.publish([m]) for m in small[:10]]
    started = time.monotonic()
    oversized = publisher.publish(
        [
            OutgoingMessage(
                runtime.settings.ingest_topic, b"x" * (11 * MB), envelope_attrs("too-big")
            )
        ]
    )
    futures += [publisher.publish([m]) for m in small[10:]]
    futures.append(
        publisher.publish([OutgoingMessage("alerts-4242", b'{"a": 1}', {"tenant_id": "4242"})])
    )
    with pytest.raises(PublishError, match="too large"):
        oversized.result(timeout=10)
    assert time.monotonic() - started < 1.0  # refused before any RPC, not after a timeout
    for future in futures:
        assert len(future.result(timeout=10)) == 1
    got = ingest.pull(20)
    assert sorted(m.attributes["request_id"] for m in got) == sorted(
        f"small-{i}" for i in range(20)
    )
    assert [m.data for m in acme.pull(1)] == [b'{"a": 1}']
    assert MAX_REQUEST_BYTES <= 10 * MB


def test_dead_letter_detail_is_cut_to_1024_bytes_and_stays_utf8(
    runtime: Runtime, dead_letters: TopicWatch
) -> None:
    """The detail names the source, which is 1,020 bytes of '€' here: 378 characters, so a
    cut by characters left ~1,050 bytes, over Pub/Sub's limit for an attribute value."""
    source = "€" * 340
    outcome = handle_message(runtime, b"{}", envelope_attrs("r-euro") | {"source": source})
    assert outcome.dead_letter_reason is not None
    (dead,) = dead_letters.pull(1)
    detail = dead.attributes["dead_letter_detail"]
    raw = detail.encode("utf-8")
    assert ATTRIBUTE_VALUE_MAX_BYTES - 3 <= len(raw) <= ATTRIBUTE_VALUE_MAX_BYTES
    assert str(outcome.dead_letter_detail).startswith(detail)
    assert all(len(v.encode()) <= ATTRIBUTE_VALUE_MAX_BYTES for v in dead.attributes.values())


@pytest.mark.parametrize("value", ["9" * 6000, "-1", "1e3", "٣", " 2x"])
def test_adobe_retry_count_that_is_not_a_small_integer_is_refused_with_400(
    client: Any, runtime: Runtime, key_server: KeyServer, ingest: TopicWatch, value: str
) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, adobe_key_host=key_server.url)
    key = key_server.publish(SigningKey())
    body = json.dumps(ADOBE["failure"]).encode()
    headers = {**signed_headers(body, key), "x-adobe-retry-count": value}
    response = client.post(ADOBE_PATH, data=body, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    problem = response.get_json()["details"][0]
    assert problem["field"] == "x-adobe-retry-count"
    assert ingest.quiet(0.5) == []
    # a well-formed count is kept as an attribute
    headers["x-adobe-retry-count"] = "3"
    assert client.post(ADOBE_PATH, data=body, headers=headers).status_code == 200
    (message,) = ingest.pull(1)
    assert message.attributes["adobe_retry_count"] == "3"


def test_a_message_pubsub_refuses_fails_alone_not_the_request_it_was_batched_in(
    runtime: Runtime, ingest: TopicWatch
) -> None:
    """Pub/Sub refuses a whole Publish with INVALID_ARGUMENT for one bad message (here one
    with neither data nor attributes); the others handed in with it still land."""
    publisher = runtime.publisher
    topic = runtime.settings.ingest_topic
    futures = [
        publisher.publish([OutgoingMessage(topic, b"{}", envelope_attrs(f"n-{i}"))])
        for i in range(5)
    ]
    empty = publisher.publish([OutgoingMessage(topic, b"", {})])
    futures += [
        publisher.publish([OutgoingMessage(topic, b"{}", envelope_attrs(f"n-{i}"))])
        for i in range(5, 10)
    ]
    with pytest.raises(PublishError, match="InvalidArgument"):
        empty.result(timeout=10)
    for future in futures:
        assert len(future.result(timeout=10)) == 1
    got = ingest.pull(10)
    assert sorted(m.attributes["request_id"] for m in got) == sorted(f"n-{i}" for i in range(10))
