"""Resolve by run order: a success resolves a failure only if its run started at or after
the failure's run, and a late older run never re-opens what a newer run settled.

Adobe delivers at least once and out of order, CIH events are posted and polled in any
order, and ``alertbridge replay`` re-reads an ingest range through an unordered
subscription; so the decision needs the last run seen for each dedup key. That record
lives in the state store (Firestore), updated atomically (compare-and-set) per alert; the
alerts of one message in one commit.

Runs are ranked by (run time, firing before resolved): two different runs dated the same
instant must not settle the key by arrival order, so the failure outranks the success (when
in doubt, page). An alert ranked equal to the record — the same alert again (a redelivery
or a replay; the publish after the compare-and-set may have failed) or a sibling run that
settles the key the same way at the same instant — is published but does not rewrite the
record.

A run dated more than a skew after it was received (``ALERTBRIDGE_RUN_TIME_MAX_SKEW``,
1 h) would outrank every real run of its flow for ever: a signed success claiming year
9999 muted every later failure. ``check_times`` refuses such a message before anything is
recorded; the normaliser dead-letters it ``implausible_time`` (original bytes, replayable
once the sender's clock is fixed) rather than clamping its time, which would invent a run
time nobody reported and still let it settle the flow.

Sub-task messages are not ordered: they are always ``firing`` and nothing they carry can
resolve, so an older one arriving late changes nothing the notifier would not skip as a
repeat, and ordering them would cost a compare-and-set on the busiest source.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alertbridge.alert import Alert
from alertbridge.sources import AdapterError, specs
from alertbridge.state import StateStore, Update
from alertbridge.vocabulary import DeadLetterReason

COLLECTION = "run-order"
# Sources whose alerts carry run times and can resolve (their spec says ``run_ordered``).
ORDERED_SOURCES = frozenset(spec.name for spec in specs() if spec.run_ordered)

Rank = tuple[datetime, int]


class ImplausibleTime(AdapterError):
    """A run dated too far after its receipt: it must not move the run-order record."""

    reason: DeadLetterReason = "implausible_time"


def check_times(alerts: list[Alert], max_skew_s: float) -> None:
    """Raise ``ImplausibleTime`` if any alert's run is dated more than ``max_skew_s`` after
    the message was received. All or nothing: checked before any record is touched."""
    skew = timedelta(seconds=max_skew_s)
    for alert in alerts:
        if alert.occurred_at - alert.received_at > skew:
            raise ImplausibleTime(
                f"{alert.dedup_key}: run dated {alert.occurred_at.isoformat()} is more than "
                f"{max_skew_s:g} s after it was received ({alert.received_at.isoformat()}); "
                "it would outrank every real run of this key"
            )


def rank(started: datetime, status: str) -> Rank:
    """Order of runs: the later run wins; at the same instant a failure wins."""
    return (started, 1 if status == "firing" else 0)


def decide(previous: dict[str, Any] | None, alert: Alert) -> tuple[bool, dict[str, Any] | None]:
    """(publish?, record to store or None to leave it). Pure."""
    started = alert.occurred_at.isoformat()
    record = {"run_started": started, "status": alert.status, "alert_id": alert.id}
    if previous is None:
        return True, record
    recorded = rank(
        datetime.fromisoformat(str(previous["run_started"])), str(previous.get("status", ""))
    )
    incoming = rank(alert.occurred_at, alert.status)
    if incoming < recorded:
        return False, None  # an older run arriving late: the newer run's state stands
    if incoming == recorded:
        return True, None  # the same outcome again: publish it, the record stands
    return True, record


def apply(store: StateStore, alerts: list[Alert]) -> list[Alert]:
    """The alerts that should still be published, recording each accepted run. A message's
    alerts (a CIH tree) are decided and recorded in one atomic write when their dedup keys
    differ: one Firestore commit per message, not one per alert."""
    verdicts: list[list[bool]] = [[] for _ in alerts]

    def deciding(alert: Alert, verdict: list[bool]) -> Update:
        def update(previous: dict[str, Any] | None) -> dict[str, Any] | None:
            verdict.clear()
            publish, record = decide(previous, alert)
            verdict.append(publish)
            return record

        return update

    changes = [
        (COLLECTION, alert.dedup_key, deciding(alert, verdict))
        for alert, verdict in zip(alerts, verdicts, strict=True)
    ]
    if len({alert.dedup_key for alert in alerts}) == len(alerts):
        store.update_together(changes)
    else:  # one key twice: each decides on the record the one before it wrote
        for change in changes:
            store.update(*change)
    return [alert for alert, verdict in zip(alerts, verdicts, strict=True) if verdict[:1] == [True]]
