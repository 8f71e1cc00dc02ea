"""The durable state seam on the real Firestore emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from alertbridge.state import FirestoreStore, MemoryStore, StateStore
from alertbridge_dev.emulator import Emulator


def bump_count(current: dict[str, Any] | None) -> dict[str, Any]:
    return {"count": (current or {}).get("count", 0) + 1}


def test_update_is_atomic_under_concurrent_writers(state: StateStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:  # writers race: compare-and-set retries
        list(pool.map(lambda _: state.update("counters", "a/b:c", bump_count), range(40)))
    record = state.get("counters", "a/b:c")
    assert record is not None and record["count"] == 40
    assert record["key"] == "a/b:c"


def test_update_replaces_the_whole_record(state: StateStore) -> None:
    state.update("things", "k", lambda current: {"status": "firing", "incident": "p-1"})
    state.update("things", "k", lambda current: {"status": "resolved"})
    assert state.get("things", "k") == {"status": "resolved", "key": "k"}


def test_update_returning_none_stores_nothing(state: StateStore) -> None:
    assert state.update("things", "k", lambda current: None) is None
    assert state.get("things", "k") is None


def test_two_instances_alternating_on_one_key_never_lose_an_update(
    state: StateStore, firestore_emulator: Emulator, project: str
) -> None:
    """Each instance remembers what it wrote last and skips the read; when the other
    instance wrote in between, the write's precondition fails and it reads again."""
    other = FirestoreStore(project, firestore_emulator.host)
    try:
        for _ in range(10):
            state.update("counters", "shared", bump_count)
            other.update("counters", "shared", bump_count)
        assert state.get("counters", "shared") == {"count": 20, "key": "shared"}
    finally:
        other.close()


def test_concurrent_updates_of_different_records_share_commits_and_each_lands(
    state: StateStore,
) -> None:
    """Group commit: 16 threads updating 40 records, 400 updates; every record ends at
    exactly its count, in fewer Commit RPCs than updates."""
    assert isinstance(state, FirestoreStore)
    before = state.commits
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: state.update("grouped", f"r{i % 40}", bump_count), range(400)))
    for r in range(40):
        assert state.get("grouped", f"r{r}") == {"count": 10, "key": f"r{r}"}
    assert state.commits - before < 400


def test_a_stale_guess_in_a_group_fails_no_one_else_and_is_read_again(
    state: StateStore, firestore_emulator: Emulator, project: str
) -> None:
    """Another instance rewrote records this one remembers: their updates' preconditions
    fail whichever group they ride in; every caller of that group still lands its update
    exactly once (each commits again alone), and the stale ones re-read and re-decide."""
    assert isinstance(state, FirestoreStore)
    other = FirestoreStore(project, firestore_emulator.host)
    try:
        for r in range(24):
            state.update("mixed", f"r{r}", bump_count)
        for r in range(0, 24, 3):  # every third record moves behind this instance's back
            other.update("mixed", f"r{r}", bump_count)
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(lambda r: state.update("mixed", f"r{r}", bump_count), range(24)))
        for r in range(24):
            expected = 3 if r % 3 == 0 else 2
            assert state.get("mixed", f"r{r}") == {"count": expected, "key": f"r{r}"}, r
    finally:
        other.close()


def test_a_record_that_cannot_be_stored_fails_its_caller_only(state: StateStore) -> None:
    """A record Firestore cannot hold (a set) fails its own update with TypeError; the
    callers that shared its commit still land theirs."""

    def update(i: int) -> Exception | None:
        fn = (lambda current: {"bad": {1, 2}}) if i == 5 else bump_count
        try:
            state.update("encode", f"r{i}", fn)
        except TypeError as exc:
            return exc
        return None

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(update, range(12)))
    assert [i for i, o in enumerate(outcomes) if o is not None] == [5]
    assert "JSON-like values only" in str(outcomes[5])
    assert state.get("encode", "r5") is None
    for i in (0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11):
        assert state.get("encode", f"r{i}") == {"count": 1, "key": f"r{i}"}


def test_a_decision_to_store_nothing_is_taken_on_the_real_record(state: StateStore) -> None:
    state.update("things", "k", lambda current: {"open": True})
    seen: list[dict[str, Any] | None] = []

    def only_if_open(current: dict[str, Any] | None) -> dict[str, Any] | None:
        seen.append(current)
        return None if current is None else {"open": False}

    assert state.update("things", "absent", only_if_open) is None
    assert seen == [None, None]  # the guess "absent" is checked by a read before giving up
    assert state.get("things", "absent") is None


def test_a_document_deleted_behind_a_remembered_write_is_recreated(state: StateStore) -> None:
    assert isinstance(state, FirestoreStore)
    state.update("things", "gone", lambda current: {"n": 1})
    state._ref("things", "gone").delete()  # e.g. a TTL policy or an operator
    assert state.update("things", "gone", lambda current: {"n": (current or {}).get("n", 0) + 1})
    assert state.get("things", "gone") == {"n": 1, "key": "gone"}


RECORD: dict[str, Any] = {
    "status": "firing",
    "count": 3,
    "ratio": 0.25,
    "open": False,
    "nothing": None,
    "times": [1795834004.5, 1795834064.0],
    "fields": [{"name": "label.env", "value": "prod ✓"}],
    "nested": {"a": {"b": [1, "two", True]}},
    "raw": b"\x00\xff",
}


def test_a_record_written_on_the_raw_path_reads_the_same_through_the_client_library(
    state: StateStore,
) -> None:
    """Records written before the raw path (by the client library) and after it are the
    same documents: each side reads what the other wrote, value for value."""
    assert isinstance(state, FirestoreStore)
    state.update("things", "mixed", lambda current: dict(RECORD))
    snapshot = state._ref("things", "mixed").get()
    assert snapshot.to_dict() == {**RECORD, "key": "mixed"}


def test_a_record_the_client_library_wrote_is_read_and_updated_on_the_raw_path(
    state: StateStore,
) -> None:
    from datetime import UTC, datetime

    assert isinstance(state, FirestoreStore)
    at = datetime(2026, 11, 28, 3, 0, 0, 500_000, tzinfo=UTC)
    state._ref("things", "old").set({**RECORD, "at": at, "key": "old"})
    assert state.get("things", "old") == {**RECORD, "at": at, "key": "old"}
    # an update decides on what it read and replaces the whole document (stale fields go)
    # (first tried as a create, the key being new to this process; the create fails, the
    # document is read and the decision taken again on it)
    assert state.update(
        "things", "old", lambda current: {"count": (current or {}).get("count", 0) + 1}
    )
    assert state._ref("things", "old").get().to_dict() == {"count": 4, "key": "old"}


def test_a_value_firestore_would_store_differently_is_refused_before_anything_is_written(
    state: StateStore,
) -> None:
    from datetime import UTC, datetime

    with pytest.raises(TypeError, match="JSON-like values only, not datetime"):
        state.update("things", "when", lambda current: {"at": datetime.now(UTC)})
    assert state.get("things", "when") is None


def test_records_updated_together_are_bumped_as_pairs_under_racing_writers(
    state: StateStore, firestore_emulator: Emulator, project: str
) -> None:
    """Two instances, four threads each, bump two records together: a commit that lost a
    race on either record re-reads and re-decides both, so neither loses nor doubles a bump."""
    other = FirestoreStore(project, firestore_emulator.host)
    try:
        pair = [("counters", "pair-a", bump_count), ("counters", "pair-b", bump_count)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(lambda i: (state if i % 2 else other).update_together(pair), range(60))
            )
        assert all(len(r) == 2 and r[0] == r[1] for r in results)  # decided as one
        assert state.get("counters", "pair-a") == {"count": 60, "key": "pair-a"}
        assert state.get("counters", "pair-b") == {"count": 60, "key": "pair-b"}
    finally:
        other.close()


def test_a_record_that_decides_nothing_is_left_alone_while_the_others_are_written(
    state: StateStore,
) -> None:
    state.update("things", "kept", lambda current: {"v": 1})
    got = state.update_together(
        [("things", "new", lambda current: {"v": 2}), ("things", "kept", lambda current: None)]
    )
    assert got == [{"v": 2}, None]
    assert state.get("things", "new") == {"v": 2, "key": "new"}
    assert state.get("things", "kept") == {"v": 1, "key": "kept"}


def test_a_refused_record_writes_none_of_the_records_updated_with_it(state: StateStore) -> None:
    from datetime import UTC, datetime

    with pytest.raises(TypeError):
        state.update_together(
            [
                ("things", "fine", lambda current: {"v": 1}),
                ("things", "bad", lambda current: {"at": datetime.now(UTC)}),
            ]
        )
    assert state.get("things", "fine") is None and state.get("things", "bad") is None


def test_the_memory_store_updates_together_with_the_same_contract() -> None:
    store = MemoryStore()
    store.update("things", "kept", lambda current: {"v": 1})
    pair = [("c", "a", bump_count), ("c", "b", bump_count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: store.update_together(pair), range(40)))
    assert store.get("c", "a") == store.get("c", "b") | {"key": "a"} == {"count": 40, "key": "a"}
    assert store.update_together([("things", "kept", lambda current: None)]) == [None]
    assert store.get("things", "kept") == {"v": 1, "key": "kept"}
