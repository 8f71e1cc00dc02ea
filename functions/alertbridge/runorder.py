"""Resolve by run order: a success resolves a failure only if its run started at or after
the failure's run, and a late older run never re-opens what a newer run settled.

Adobe delivers at least once and out of order, so the decision needs the last run seen
for each dedup key; that record lives in the state store (Firestore), updated atomically
(compare-and-set) per alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertbridge.alert import Alert
from alertbridge.state import StateStore

COLLECTION = "run-order"


def decide(previous: dict[str, Any] | None, alert: Alert) -> tuple[bool, dict[str, Any] | None]:
    """(publish?, record to store or None to leave it). Pure."""
    started = alert.occurred_at.isoformat()
    record = {"run_started": started, "status": alert.status, "alert_id": alert.id}
    if previous is None:
        return True, record
    previous_start = datetime.fromisoformat(str(previous["run_started"]))
    if alert.occurred_at < previous_start:
        return False, None  # an older run arriving late: the newer run's state stands
    return True, record


def apply(store: StateStore, alerts: list[Alert]) -> list[Alert]:
    """The alerts that should still be published, recording each accepted run."""
    keep: list[Alert] = []
    for alert in alerts:
        verdict: list[bool] = []

        def update(
            previous: dict[str, Any] | None, alert: Alert = alert, verdict: list[bool] = verdict
        ) -> dict[str, Any] | None:
            verdict.clear()
            publish, record = decide(previous, alert)
            verdict.append(publish)
            return record

        store.update(COLLECTION, alert.dedup_key, update)
        if verdict and verdict[0]:
            keep.append(alert)
    return keep
