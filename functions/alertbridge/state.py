"""Small durable state the stateless functions need: per-key records updated atomically.

Adobe's resolve-by-run-order and the notifier's "page once" both need a record per
dedup key that concurrent function instances read and write consistently. Firestore
(Native mode) in production, its emulator locally and in tests; the seam is one
transactional read-modify-write so callers hold no Firestore code.
"""

from __future__ import annotations

import hashlib
import os
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

    def _ref(self, collection: str, key: str) -> Any:
        return self._client.collection(f"{self._prefix}-{collection}").document(document_id(key))

    def get(self, collection: str, key: str) -> Record | None:
        snapshot = self._ref(collection, key).get()
        return dict(snapshot.to_dict() or {}) if snapshot.exists else None

    def update(self, collection: str, key: str, fn: Update) -> Record | None:
        ref = self._ref(collection, key)

        @self._firestore.transactional  # type: ignore[misc,unused-ignore]
        def apply(transaction: Any) -> Record | None:
            snapshot = ref.get(transaction=transaction)
            current = dict(snapshot.to_dict() or {}) if snapshot.exists else None
            new = fn(current)
            if new is not None:
                transaction.set(ref, {**new, "key": key})
            return new

        result: Record | None = apply(self._client.transaction(max_attempts=self.max_attempts))
        return result

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call,unused-ignore]
