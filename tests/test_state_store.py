"""The durable state seam on the real Firestore emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alertbridge.state import StateStore


def test_update_is_atomic_under_concurrent_writers(state: StateStore) -> None:
    def bump(current: dict[str, Any] | None) -> dict[str, Any]:
        return {"count": (current or {}).get("count", 0) + 1}

    with ThreadPoolExecutor(max_workers=8) as pool:  # writers race: compare-and-set retries
        list(pool.map(lambda _: state.update("counters", "a/b:c", bump), range(40)))
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
