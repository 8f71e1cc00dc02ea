"""``pubsub.Publication``: one ``Publisher.publish`` call on its way, settled once.

Its messages may be confirmed or fail in any order (different topics go in different
Publish requests; a request refused for one bad message is retried message by message),
and the caller must hear exactly once, after the last one: every id in the order the
messages were handed in, or the first failure. Checked against that model for any order
and any mix, then end to end on the emulator: many calls in flight on several topics, each
answered with ids that are the messages' own.
"""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from alertbridge.pubsub import OutgoingMessage, Publication
from alertbridge.runtime import Runtime
from conftest import Received, TopicWatch


@st.composite
def outcomes(draw: Any) -> tuple[int, list[tuple[int, str | None]]]:
    """A call of ``count`` messages and the order the flusher settles them in, each
    confirmed with an id or failed (None)."""
    count = draw(st.integers(min_value=1, max_value=12))
    order = draw(st.permutations(range(count)))
    fails = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    return count, [(i, None if fails[i] else f"id-{i}") for i in order]


@given(outcomes())
def test_a_call_hears_once_after_its_last_message_with_every_id_or_the_first_failure(
    case: tuple[int, list[tuple[int, str | None]]],
) -> None:
    count, settled_in = case
    heard: list[tuple[list[str] | None, BaseException | None]] = []
    publication = Publication(count, lambda ids, failure: heard.append((ids, failure)))
    failures: list[BaseException] = []
    for step, (index, message_id) in enumerate(settled_in, start=1):
        if message_id is None:
            refused = RuntimeError(f"message {index} refused")
            failures.append(refused)
            publication.failed(refused)
        else:
            publication.confirmed(index, message_id)
        assert len(heard) == (1 if step == count else 0)  # nothing before the last
    ids, failure = heard[0]
    if failures:
        assert ids is None and failure is failures[0]
    else:
        assert failure is None and ids == [f"id-{i}" for i in range(count)]


def test_a_waiter_that_raises_is_heard_once_and_does_not_raise_into_the_flusher() -> None:
    calls: list[int] = []

    def broken(ids: list[str] | None, failure: BaseException | None) -> None:
        calls.append(1)
        raise RuntimeError("gone")

    publication = Publication(2, broken)
    publication.confirmed(1, "b")
    publication.confirmed(0, "a")  # would raise into the flusher thread if not caught
    assert calls == [1]


def test_concurrent_calls_on_several_topics_each_get_their_own_ids_and_all_land(
    runtime: Runtime, watch: Any
) -> None:
    """16 threads x 10 calls of 1-3 messages across two tenant topics: every call hears ids
    for exactly its messages (no id twice across all calls), and each topic receives
    exactly the messages sent to it."""
    topics = ("alerts-4242", "alerts-5151")
    watches: dict[str, TopicWatch] = {t: watch(t) for t in topics}
    sent: dict[str, set[bytes]] = {t: set() for t in topics}
    ids_heard: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def caller(worker: int) -> None:
        try:
            for call in range(10):
                messages = [
                    OutgoingMessage(
                        topics[(worker + part) % 2],
                        f"{worker}-{call}-{part}".encode(),
                        {"tenant_id": "4242"},
                    )
                    for part in range(1 + (worker + call) % 3)
                ]
                ids = runtime.publisher.publish_and_wait(messages)
                assert len(ids) == len(messages) and all(ids)
                with lock:
                    ids_heard.extend(ids)
                    for message in messages:
                        sent[message.topic].add(message.data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(ids_heard) == len(set(ids_heard)) == sum(len(v) for v in sent.values())
    for topic, topic_watch in watches.items():
        want = sent[topic]

        def landed(received: list[Received], want: set[bytes] = want) -> bool:
            return {m.data for m in received} >= want

        got = topic_watch.pull_until(landed)
        assert sorted(m.data for m in got) == sorted(want)
