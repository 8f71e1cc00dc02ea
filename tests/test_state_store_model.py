"""The compare-and-set store against a model, from the side of the code that relies on it:
two instances of it (two function instances, each remembering its own last writes and
guessing from them) apply random updates, alone and several together, to a few records on
the real Firestore emulator; a dict applies the same decisions. After every step the
emulator holds exactly what the model holds: no update lost to a stale guess, none applied
twice by a retry, a decision to write nothing never writing, and a group all or nothing;
and callers racing from threads (grouped into shared commits, or failing each other's
preconditions) each land exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from alertbridge.state import FirestoreStore, MemoryStore, Record, StateStore, Update
from alertbridge_dev.emulator import Emulator

KEYS = ("flow-a", "flow-b", "flow-c")
COLLECTION = "model"
OPS = ("bump", "bump", "reset", "keep", "bump_if_even")


def op(name: str) -> Update:
    """What a caller decides from the current record (None: write nothing)."""

    def decide(current: Record | None) -> Record | None:
        n = (current or {}).get("n", 0)
        if name == "bump":
            return {"n": n + 1, "history": [*(current or {}).get("history", []), n][-3:]}
        if name == "reset":
            return {"n": 0}
        if name == "bump_if_even":
            return {"n": n + 1} if n % 2 == 0 else None
        return None  # keep

    return decide


def add_one(current: Record | None) -> Record:
    """Commutes with itself: the model need not know in which order racing adds landed."""
    return {"n": (current or {}).get("n", 0) + 1}


def machine(new_store: Callable[[], tuple[StateStore, StateStore]]) -> type[RuleBasedStateMachine]:
    class TwoInstancesOneModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.stores = new_store()
            self.model: dict[str, Record] = {}

        def apply_to_model(self, key: str, name: str) -> Record | None:
            current = self.model.get(key)
            decided = op(name)(None if current is None else dict(current))
            if decided is not None:
                self.model[key] = {**decided, "key": key}
            return decided

        @rule(which=st.integers(0, 1), key=st.sampled_from(KEYS), name=st.sampled_from(OPS))
        def update_one(self, which: int, key: str, name: str) -> None:
            expected = self.apply_to_model(key, name)
            assert self.stores[which].update(COLLECTION, key, op(name)) == expected

        @rule(
            which=st.integers(0, 1),
            picks=st.lists(
                st.tuples(st.sampled_from(KEYS), st.sampled_from(OPS)),
                min_size=1,
                max_size=3,
                unique_by=lambda pick: pick[0],
            ),
        )
        def update_together(self, which: int, picks: list[tuple[str, str]]) -> None:
            expected = [self.apply_to_model(key, name) for key, name in picks]
            changes = [(COLLECTION, key, op(name)) for key, name in picks]
            assert self.stores[which].update_together(changes) == expected

        @rule(
            picks=st.lists(
                st.tuples(st.integers(0, 1), st.sampled_from(KEYS)), min_size=2, max_size=8
            )
        )
        def racing_adds(self, picks: list[tuple[int, str]]) -> None:
            """Callers on both instances add one to records at the same moment (grouped in
            one commit when their records differ, racing when they share one): each lands
            exactly once, whatever order they commit in."""
            start = threading.Barrier(len(picks))

            def add(pick: tuple[int, str]) -> None:
                which, key = pick
                start.wait(timeout=30)
                self.stores[which].update(COLLECTION, key, add_one)

            with ThreadPoolExecutor(max_workers=len(picks)) as pool:
                list(pool.map(add, picks))
            for key in {key for _, key in picks}:
                n = self.model.get(key, {}).get("n", 0)
                self.model[key] = {"n": n + sum(1 for _, k in picks if k == key), "key": key}

        @invariant()
        def the_store_holds_the_model(self) -> None:
            for key in KEYS:
                assert self.stores[0].get(COLLECTION, key) == self.model.get(key), key

        def teardown(self) -> None:
            for store in self.stores:
                close: Any = getattr(store, "close", None)
                if close is not None:
                    close()

    return TwoInstancesOneModel


def test_two_firestore_instances_updating_alone_and_together_hold_what_the_model_holds(
    firestore_emulator: Emulator,
) -> None:
    def new_store() -> tuple[StateStore, StateStore]:
        project = f"model-{uuid.uuid4().hex[:12]}"
        return (
            FirestoreStore(project, firestore_emulator.host),
            FirestoreStore(project, firestore_emulator.host),
        )

    run_state_machine_as_test(
        machine(new_store),
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_memory_store_holds_what_the_model_holds() -> None:
    def new_store() -> tuple[StateStore, StateStore]:
        store = MemoryStore()
        return store, store

    run_state_machine_as_test(
        machine(new_store), settings=settings(max_examples=100, stateful_step_count=25)
    )
