"""Ordering keys: the dedup key in production; against the emulator, a stable bucket of it,
because the emulator (0.8.20) starts a thread pool for every ordering key an ordered
subscription sees and never stops it (a 20,000-failure bench left 15,000 threads)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertbridge.pubsub import (
    ATTRIBUTE_VALUE_MAX_BYTES,
    EMULATOR_ORDERING_BUCKETS,
    OutgoingMessage,
    Publisher,
    emulator_ordering_buckets,
    ensure_subscription,
    ensure_topics,
    make_publisher_client,
    make_subscriber_client,
    ordering_key_for,
)
from alertbridge_dev.emulator import Emulator
from conftest import TopicWatch


def test_production_publishes_with_the_dedup_key_itself() -> None:
    assert emulator_ordering_buckets(None) == 0
    assert ordering_key_for("job-1/2", 0) == "job-1/2"
    assert emulator_ordering_buckets("127.0.0.1:8681") == EMULATOR_ORDERING_BUCKETS


def test_a_bad_bucket_count_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_EMULATOR_ORDERING_BUCKETS", "lots")
    with pytest.raises(ValueError, match="ALERTBRIDGE_EMULATOR_ORDERING_BUCKETS='lots'"):
        emulator_ordering_buckets("127.0.0.1:8681")
    monkeypatch.setenv("ALERTBRIDGE_EMULATOR_ORDERING_BUCKETS", "0")
    assert emulator_ordering_buckets("127.0.0.1:8681") == 0


@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=200))
def test_a_bucket_is_stable_per_key_bounded_in_number_and_not_rebucketed(keys: list[str]) -> None:
    buckets = {key: ordering_key_for(key, 8) for key in keys}
    assert all(ordering_key_for(key, 8) == bucket for key, bucket in buckets.items())
    assert len(set(buckets.values())) <= 8
    assert all(ordering_key_for(b, 8) == b for b in buckets.values())  # a replay keeps it
    assert all(len(b.encode()) <= ATTRIBUTE_VALUE_MAX_BYTES for b in buckets.values())


def test_the_emulator_keeps_each_incident_in_order_without_a_thread_per_key(
    own_emulator: Emulator,
) -> None:
    """300 incidents, each a trigger then a resolve, on an ordered subscription: every
    resolve comes after its trigger, and the emulator grew by far fewer than 300 threads
    (before the buckets: one per key)."""
    project = "ordering-test"
    ensure_topics(make_publisher_client(own_emulator.host, ordering=False), project, ["alerts"])
    subscriber = make_subscriber_client(own_emulator.host)
    path = ensure_subscription(subscriber, project, "ordered", "alerts", ordering=True)
    before = own_emulator.thread_count()
    publisher = Publisher(project, own_emulator.host)
    try:
        for status in ("firing", "resolved"):
            publisher.publish_and_wait(
                [
                    OutgoingMessage(
                        "alerts",
                        json.dumps({"key": f"job-{i}", "status": status}).encode(),
                        {},
                        ordering_key=f"job-{i}",
                    )
                    for i in range(300)
                ]
            )
        received = TopicWatch(subscriber, path).pull(600, timeout=60)
    finally:
        publisher.stop()
    seen: dict[str, list[str]] = defaultdict(list)
    for message in received:
        body = message.json()
        seen[body["key"]].append(body["status"])
    assert len(seen) == 300
    assert all(statuses[:2] == ["firing", "resolved"] for statuses in seen.values())
    assert own_emulator.thread_count() - before < EMULATOR_ORDERING_BUCKETS + 40
