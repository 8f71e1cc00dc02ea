"""Small durable state the stateless functions need: per-key records updated atomically.

Adobe's resolve-by-run-order and the notifier's "page once" both need a record per
dedup key that concurrent function instances read and write consistently. Firestore
(Native mode) in production, its emulator locally and in tests; the seam is one
atomic read-modify-write (compare-and-set) so callers hold no Firestore code.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

Record = dict[str, Any]
Update = Callable[[Record | None], Record | None]


class StateStore(Protocol):
    def get(self, collection: str, key: str) -> Record | None: ...

    def update(self, collection: str, key: str, fn: Update) -> Record | None:
        """Atomically apply ``fn`` to the current record (None if absent) and store what it
        returns (nothing when it returns None). Returns the stored record or None."""
        ...

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        """Every record whose ``field`` equals ``value`` (the sweep's open incidents)."""
        ...


def document_id(key: str) -> str:
    """Dedup keys contain '/' and can be long: Firestore ids are their SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()


class FirestoreStore:
    def __init__(
        self,
        project_id: str,
        emulator_host: str | None = None,
        database: str = "(default)",
        prefix: str = "alertbridge",
        max_attempts: int = 25,
    ) -> None:
        self.max_attempts = max_attempts
        if emulator_host:
            # The client takes the emulator from the environment only.
            os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
        from google.cloud import firestore

        self._firestore = firestore
        self._client = firestore.Client(project=project_id, database=database)
        self._prefix = prefix
        # What this process last wrote per document, with the write's update_time: the
        # next compare-and-set on that key can skip the read. A stale entry only costs a
        # failed precondition and a read; it can never let a write through unchecked.
        self._written: OrderedDict[tuple[str, str], tuple[Record, Any]] = OrderedDict()
        self._written_max = 10_000
        self._lock = threading.Lock()

    def _ref(self, collection: str, key: str) -> Any:
        return self._client.collection(f"{self._prefix}-{collection}").document(document_id(key))

    def get(self, collection: str, key: str) -> Record | None:
        snapshot = self._ref(collection, key).get()
        return dict(snapshot.to_dict() or {}) if snapshot.exists else None

    def update(self, collection: str, key: str, fn: Update) -> Record | None:
        """Compare-and-set: decide on the current record, then write only if the document
        has not changed since (``exists=False`` for a new one, its ``update_time``
        otherwise); a lost race reads again and re-decides.

        No lock is held between read and write, so writers racing on one key all get
        through: with a Firestore transaction, 8 writers making 40 updates to one key
        failed with "Transaction lock timeout" after 25 attempts each (emulator,
        tests/test_state_store.py). The first attempt skips the read when it can: a key
        this process never saw is tried as a create, a key it wrote last is updated on
        that write's update_time; either costs one RPC instead of a read and a write.
        """
        from google.api_core import exceptions as gexc

        ref = self._ref(collection, key)
        slot = (collection, key)
        with self._lock:
            known = self._written.get(slot)
        guess: tuple[Record | None, Any] | None = known if known else (None, None)
        for _attempt in range(self.max_attempts):
            guessed = guess is not None
            if guess is not None:
                current, update_time = guess
                guess = None
            else:
                snapshot = ref.get()
                current = dict(snapshot.to_dict() or {}) if snapshot.exists else None
                update_time = snapshot.update_time
            new = fn(None if current is None else dict(current))
            if new is None:
                if guessed:
                    continue  # a guess decides nothing that is not written: read it
                return None
            data = {**new, "key": key}
            try:
                if current is None:
                    result = ref.create(data)
                else:
                    stale = {name: self._firestore.DELETE_FIELD for name in current}
                    result = ref.update(
                        {**stale, **data},
                        option=self._client.write_option(last_update_time=update_time),
                    )
            except (gexc.Conflict, gexc.FailedPrecondition, gexc.NotFound):
                # another writer got there first (or the document was deleted under a
                # remembered write): forget the guess, read and re-decide
                with self._lock:
                    self._written.pop(slot, None)
                continue
            with self._lock:
                self._written[slot] = (data, result.update_time)
                self._written.move_to_end(slot)
                while len(self._written) > self._written_max:
                    self._written.popitem(last=False)
            return new
        raise RuntimeError(f"state update of {collection}/{key} lost {self.max_attempts} races")

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(f"{self._prefix}-{collection}").where(
            filter=FieldFilter(field, "==", value)
        )
        return [dict(snapshot.to_dict() or {}) for snapshot in query.stream()]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call,unused-ignore]


class MemoryStore:
    """The same compare-and-set contract in one process's memory, for model tests that
    take hundreds of steps (the emulator costs milliseconds per update)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], Record] = {}
        self._lock = threading.Lock()

    def get(self, collection: str, key: str) -> Record | None:
        with self._lock:
            record = self._records.get((collection, key))
            return dict(record) if record is not None else None

    def update(self, collection: str, key: str, fn: Update) -> Record | None:
        with self._lock:
            current = self._records.get((collection, key))
            new = fn(None if current is None else dict(current))
            if new is None:
                return None
            self._records[(collection, key)] = {**new, "key": key}
            return new

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        with self._lock:
            return [
                dict(r)
                for (c, _), r in self._records.items()
                if c == collection and r.get(field) == value
            ]
