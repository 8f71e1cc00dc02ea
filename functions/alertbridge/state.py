"""Small durable state the stateless functions need: per-key records updated atomically.

Adobe's resolve-by-run-order and the notifier's "page once" both need a record per
dedup key that concurrent function instances read and write consistently. Firestore
(Native mode) in production, its emulator locally and in tests; the seam is one
atomic read-modify-write (compare-and-set) so callers hold no Firestore code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

Record = dict[str, Any]
Update = Callable[[Record | None], Record | None]
# (collection, key, update): one compare-and-set of update_together
Change = tuple[str, str, Update]


class StateStore(Protocol):
    def get(self, collection: str, key: str) -> Record | None: ...

    def update(self, collection: str, key: str, fn: Update) -> Record | None:
        """Atomically apply ``fn`` to the current record (None if absent) and store what it
        returns (nothing when it returns None). Returns the stored record or None."""
        ...

    def update_together(self, changes: Sequence[Change]) -> list[Record | None]:
        """``update`` on several records as one atomic write: every record is stored (each
        as its own ``fn`` decided on its current value) or none is. Returns what each
        ``fn`` returned."""
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
        timeout_s: float = 30.0,
    ) -> None:
        self.max_attempts = max_attempts
        if emulator_host:
            # The client takes the emulator from the environment only.
            os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
        from google.cloud import firestore

        self._client = firestore.Client(project=project_id, database=database)
        self._prefix = prefix
        self._documents = f"{self._client._database_string}/documents"
        self._raw = RawFirestore(self._client, timeout_s)
        self._commits = GroupCommit(self._raw)
        # What this process last wrote per document, with the write's update_time: the
        # next compare-and-set on that key can skip the read. A stale entry only costs a
        # failed precondition and a read; it can never let a write through unchecked.
        self._written: OrderedDict[tuple[str, str], tuple[Record, Any]] = OrderedDict()
        self._written_max = 10_000
        self._lock = threading.Lock()
        self._stripes = [threading.RLock() for _ in range(256)]

    def _ref(self, collection: str, key: str) -> Any:
        """The client library's reference to a record's document (tests read through it)."""
        return self._client.collection(f"{self._prefix}-{collection}").document(document_id(key))

    def _name(self, collection: str, key: str) -> str:
        return f"{self._documents}/{self._prefix}-{collection}/{document_id(key)}"

    def get(self, collection: str, key: str) -> Record | None:
        return self._raw.get(self._name(collection, key))[0]

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
        return self.update_together([(collection, key, fn)])[0]

    def update_together(self, changes: Sequence[Change]) -> list[Record | None]:
        """``update`` on several documents in one commit, each under its own precondition:
        Firestore applies all of a commit's writes or none, so a lost race on any one reads
        them all again and re-decides every one. The notifier's claim carries the sign-of-
        life record this way: one RPC per page fewer."""
        names = [self._name(collection, key) for collection, key, _ in changes]
        # threads of this process updating one record take turns (a lock per stripe of
        # documents, taken in order): only other instances can make them lose a race
        stripes = sorted({hash(name) % len(self._stripes) for name in names})
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(self._stripes[stripe])
            return self._update_together(changes, names)

    def _update_together(self, changes: Sequence[Change], names: list[str]) -> list[Record | None]:
        from google.api_core import exceptions as gexc

        slots = [(collection, key) for collection, key, _ in changes]
        with self._lock:
            known = [self._written.get(slot) for slot in slots]
        guessing, contended = True, False
        for attempt in range(self.max_attempts):
            if guessing:  # what this process last wrote, or absent if it never saw the key
                states: list[tuple[Record | None, Any]] = [k or (None, None) for k in known]
            else:
                states = [self._raw.get(name) for name in names]
            decided = [
                fn(None if current is None else dict(current))
                for (_, _, fn), (current, _) in zip(changes, states, strict=True)
            ]
            if guessing and any(new is None for new in decided):
                guessing = False  # a guess decides nothing that is not written: read
                continue
            guessing = False
            writes = [
                (i, {**new, "key": changes[i][1]}, None if current is None else update_time)
                for i, (new, (current, update_time)) in enumerate(zip(decided, states, strict=True))
                if new is not None
            ]
            if not writes:
                return decided
            # a first try rides in a group commit; after a lost race (and its pause) it commits
            # on its own: a contended key races as it would without groups, not slower
            commit = self._raw.write_many if contended else self._commits.write_many
            try:
                # each record replaces its document, if that is still the one decided on
                written = commit([(names[i], data, t) for i, data, t in writes])
            except (gexc.Conflict, gexc.FailedPrecondition, gexc.NotFound):
                # another writer got there first (or a document was deleted under a
                # remembered write): forget the guesses, read and re-decide
                contended = True
                with self._lock:
                    for slot in slots:
                        self._written.pop(slot, None)
                backoff(attempt)
                continue
            with self._lock:
                for (i, data, _), update_time in zip(writes, written, strict=True):
                    self._written[slots[i]] = (data, update_time)
                    self._written.move_to_end(slots[i])
                while len(self._written) > self._written_max:
                    self._written.popitem(last=False)
            return decided
        keys = ", ".join(f"{collection}/{key}" for collection, key in slots)
        raise RuntimeError(f"state update of {keys} lost {self.max_attempts} races")

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(f"{self._prefix}-{collection}").where(
            filter=FieldFilter(field, "==", value)
        )
        return [dict(snapshot.to_dict() or {}) for snapshot in query.stream()]

    @property
    def commits(self) -> int:
        """Commit RPCs sent for updates (one per group of concurrent callers)."""
        return self._commits.commits

    def close(self) -> None:
        self._commits.close()
        self._client.close()  # type: ignore[no-untyped-call,unused-ignore]


def backoff(attempt: int) -> None:
    """After a lost compare-and-set race: a random pause, growing with the attempt (up to
    50 ms), so writers racing on one hot key (a tenant's storm record, a flow's run order)
    stop colliding in lockstep. Without it, 8 threads on one pair of records lost 25 races
    in a row in 3 of 8 runs of tests/test_state_store.py's racing pairs test."""
    time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))


class RawFirestore:
    """Firestore's GetDocument and Commit with plain protobuf messages, on the client's own
    authenticated channel and with its request metadata.

    The client library builds every write through proto-plus wrappers, field paths and
    transforms: ~0.85 ms of CPU per compare-and-set here, ~0.4 ms this way (an emulator
    micro-benchmark; the notifier makes three per page, the normaliser one per run-ordered
    alert). Errors are the client library's own (``google.api_core.exceptions``), so callers
    catch exactly what they caught before; queries stay on the client library.
    """

    def __init__(self, client: Any, timeout_s: float) -> None:
        from google.api_core import gapic_v1
        from google.cloud.firestore_v1.types import common, document, firestore, write

        self._timeout_s = timeout_s
        self._database = client._database_string
        routing = gapic_v1.routing_header.to_grpc_metadata(  # type: ignore[no-untyped-call]
            (("database", self._database),)
        )
        self._metadata = [*client._rpc_metadata, routing]
        self._value = document.Value.pb()
        self._array = document.ArrayValue.pb()
        self._map = document.MapValue.pb()
        self._document = document.Document.pb()
        self._write = write.Write.pb()
        self._precondition = common.Precondition.pb()
        self._commit_request = firestore.CommitRequest.pb()
        self._get_request = firestore.GetDocumentRequest.pb()
        channel = client._firestore_api._transport.grpc_channel
        self._commit = channel.unary_unary(
            "/google.firestore.v1.Firestore/Commit",
            request_serializer=self._commit_request.SerializeToString,
            response_deserializer=firestore.CommitResponse.pb().FromString,
        )
        self._get = channel.unary_unary(
            "/google.firestore.v1.Firestore/GetDocument",
            request_serializer=self._get_request.SerializeToString,
            response_deserializer=self._document.FromString,
        )

    def _call(self, stub: Any, request: Any) -> Any:
        import grpc
        from google.api_core import exceptions as gexc

        try:
            return stub(request, timeout=self._timeout_s, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise gexc.from_grpc_error(exc) from exc  # type: ignore[no-untyped-call]

    def get(self, name: str) -> tuple[Record | None, Any]:
        """(the record or None, its update_time for a precondition, or None)."""
        from google.api_core import exceptions as gexc

        try:
            found = self._call(self._get, self._get_request(name=name))
        except gexc.NotFound:
            return None, None
        return {k: decode_value(v) for k, v in found.fields.items()}, found.update_time

    def write(self, name: str, record: Record, update_time: Any) -> Any:
        """Replace the document with ``record``: only if absent (``update_time`` None) or
        still at ``update_time``. Returns the write's update_time."""
        return self.write_many([(name, record, update_time)])[0]

    def write_many(self, writes: Sequence[tuple[str, Record, Any]]) -> list[Any]:
        """``write`` for several documents in one commit: all are written or none is (a
        failed precondition on any fails the commit). Returns each write's update_time."""
        response = self._call(self._commit, self.commit_request(writes))
        return [result.update_time for result in response.write_results]

    def commit_request(self, writes: Sequence[tuple[str, Record, Any]]) -> Any:
        changes = []
        for name, record, update_time in writes:
            precondition = (
                self._precondition(exists=False)
                if update_time is None
                else self._precondition(update_time=update_time)
            )
            fields = {k: self.encode(v) for k, v in record.items()}
            changes.append(
                self._write(
                    update=self._document(name=name, fields=fields), current_document=precondition
                )
            )
        return self._commit_request(database=self._database, writes=changes)

    def commit_async(self, request: Any, done: Callable[[Any, BaseException | None], None]) -> None:
        """Send a Commit without waiting: ``done(response, None)`` or ``done(None, error)``
        (the client library's exception) runs on gRPC's thread when it is answered."""
        import grpc
        from google.api_core import exceptions as gexc

        def settled(future: Any) -> None:
            try:
                response = future.result()
            except grpc.RpcError as exc:
                done(None, gexc.from_grpc_error(exc))  # type: ignore[no-untyped-call]
            except Exception as exc:  # cancelled when the channel closed
                done(None, exc)
            else:
                done(response, None)

        self._commit.future(
            request, timeout=self._timeout_s, metadata=self._metadata
        ).add_done_callback(settled)

    def encode(self, value: Any) -> Any:
        if value is None:
            return self._value(null_value=0)
        if isinstance(value, bool):
            return self._value(boolean_value=value)
        if isinstance(value, int):
            return self._value(integer_value=value)
        if isinstance(value, float):
            return self._value(double_value=value)
        if isinstance(value, str):
            return self._value(string_value=value)
        if isinstance(value, bytes):
            return self._value(bytes_value=value)
        if isinstance(value, list | tuple):
            return self._value(array_value=self._array(values=[self.encode(v) for v in value]))
        if isinstance(value, dict):
            fields = {str(k): self.encode(v) for k, v in value.items()}
            return self._value(map_value=self._map(fields=fields))
        raise TypeError(f"a state record holds JSON-like values only, not {type(value).__name__}")


class _Queued:
    """One caller's writes waiting for a group commit, and how it ended."""

    __slots__ = ("alone", "done", "error", "times", "writes")

    def __init__(self, writes: Sequence[tuple[str, Record, Any]]) -> None:
        self.writes = writes
        self.done = threading.Event()
        self.times: list[Any] = []
        self.error: BaseException | None = None
        self.alone = False  # its group failed a precondition: commit on its own


class GroupCommit:
    """Merges the commits of concurrent callers into one Commit RPC (a group commit).

    Each Commit costs a fixed price whatever it carries: on the Firestore emulator ~2-5 ms
    of its JVM's CPU and ~0.5 ms of ours for one write, ~0.2 and ~0.06 ms per write in
    commits of 20 (measured). The notifier makes two commits per page and the normaliser
    one per run-ordered message, from many threads at once: while ``in_flight`` commits
    are on the wire, what the others ask for waits and goes in the next one, so under load
    a commit carries many callers' writes and idle it carries one (no added delay).

    Each caller's writes keep their own preconditions, and a commit applies all or none, so
    a group stays all-or-nothing for every caller in it. Two callers never bring one
    document to a group (``FirestoreStore`` lets one thread at a time update a document:
    the second would only fail the first's precondition). When a group fails a
    precondition, nobody can tell whose it was, so each caller commits again alone and gets
    its own answer. Other errors (store down, deadline) are every caller's.
    """

    def __init__(self, raw: RawFirestore, in_flight: int = 1, max_writes: int = 500) -> None:
        self._raw = raw
        self._in_flight_max = in_flight
        self._max_writes = max_writes  # Firestore's limit per commit
        self._queue: list[_Queued] = []
        self._in_flight = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.commits = 0  # Commit RPCs sent for groups (tests and benchmarks read it)

    def write_many(self, writes: Sequence[tuple[str, Record, Any]]) -> list[Any]:
        """``RawFirestore.write_many``'s contract, sent in a group commit."""
        queued = _Queued(writes)
        with self._cond:
            if self._closed:
                raise RuntimeError("state store is closed")
            if self._thread is None:  # started on first use: after a server's fork
                self._thread = threading.Thread(
                    target=self._send_groups, name="firestore-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.append(queued)
            self._cond.notify_all()
        queued.done.wait()  # the commit's own deadline (timeout_s) bounds this
        if queued.alone:  # its group failed a precondition: get its own answer
            return self._raw.write_many(writes)
        if queued.error is not None:
            raise queued.error
        return queued.times

    def _take(self) -> list[_Queued]:
        """The queued callers that fit one commit, oldest first. Their documents are
        distinct: ``FirestoreStore`` lets one thread at a time update a document."""
        group: list[_Queued] = []
        size = 0
        while self._queue and (size + len(self._queue[0].writes) <= self._max_writes or not group):
            queued = self._queue.pop(0)
            group.append(queued)
            size += len(queued.writes)
        return group

    def _send_groups(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    not self._queue or self._in_flight >= self._in_flight_max
                ):
                    self._cond.wait()
                if self._closed:
                    return
                group = self._take()
                self._in_flight += 1
                self.commits += 1
            try:
                request = self._raw.commit_request([w for q in group for w in q.writes])
                self._raw.commit_async(request, partial(self._settle, group))
            except Exception as exc:  # a record that cannot be encoded, a closed channel
                self._settle(group, None, exc)

    def _settle(self, group: list[_Queued], response: Any, error: BaseException | None) -> None:
        from google.api_core import exceptions as gexc

        if error is None:
            times = [result.update_time for result in response.write_results]
            start = 0
            for queued in group:
                queued.times = times[start : start + len(queued.writes)]
                start += len(queued.writes)
        elif len(group) > 1 and isinstance(
            error, gexc.Conflict | gexc.FailedPrecondition | gexc.NotFound | TypeError
        ):
            for queued in group:
                queued.alone = True
        else:
            for queued in group:
                queued.error = error
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
        for queued in group:
            queued.done.set()

    def close(self) -> None:
        """Stop sending; callers still queued get an error, commits on the wire finish."""
        with self._cond:
            self._closed = True
            waiting, self._queue = self._queue, []
            self._cond.notify_all()
        for queued in waiting:
            queued.error = RuntimeError("state store is closed")
            queued.done.set()


def decode_value(value: Any) -> Any:
    """A Firestore Value as the client library's ``to_dict`` gives it (documents written by
    either path read the same)."""
    kind = value.WhichOneof("value_type")
    if kind == "map_value":
        return {k: decode_value(v) for k, v in value.map_value.fields.items()}
    if kind == "array_value":
        return [decode_value(v) for v in value.array_value.values]
    if kind == "timestamp_value":
        from datetime import UTC, datetime

        seconds, nanos = value.timestamp_value.seconds, value.timestamp_value.nanos
        return datetime.fromtimestamp(seconds + nanos / 1e9, UTC)
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)


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
        return self.update_together([(collection, key, fn)])[0]

    def update_together(self, changes: Sequence[Change]) -> list[Record | None]:
        with self._lock:
            decided = []
            for collection, key, fn in changes:
                current = self._records.get((collection, key))
                decided.append(fn(None if current is None else dict(current)))
            for (collection, key, _), new in zip(changes, decided, strict=True):
                if new is not None:
                    self._records[(collection, key)] = {**new, "key": key}
            return decided

    def find(self, collection: str, field: str, value: Any) -> list[Record]:
        with self._lock:
            return [
                dict(r)
                for (c, _), r in self._records.items()
                if c == collection and r.get(field) == value
            ]
