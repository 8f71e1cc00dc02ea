"""Page once, and again when it keeps failing: what to send for an alert, given what this
destination was last sent.

The record per (tenant, destination, dedup_key) says whether an incident is open, when
it was last notified and which alert ids were sent. A firing alert opens it; while it is
open, further firing alerts are sent again only once ``repeat_after`` has passed since
the last notification (Alertmanager's repeat_interval: a recurring failure must page
again after on-call closed the PagerDuty incident, and PagerDuty folds a repeat into an
open incident by dedup_key). A resolve is sent only for an open incident and closes it.

What the notifier guarantees on its own, whatever order messages arrive in: an alert id
already sent to a destination is never sent to it again (a redelivery, even hours later,
is ``skip_duplicate``), and an alert that occurred before the last one sent for the key
does not flip it (a late firing does not re-open what a newer resolve closed, a late
resolve does not close what a newer firing opened: ``skip_stale``). Alerts below the
destination's minimum severity are not sent and change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from alertbridge.alert import SEVERITY_ORDER, Alert

Action = Literal[
    "send",
    "skip_repeat",
    "skip_not_open",
    "skip_below_threshold",
    "skip_duplicate",
    "skip_stale",
]
SENT_IDS_KEPT = 32  # enough for every redelivery window; the record stays small
DEFAULT_REPEAT_AFTER = timedelta(hours=4)


def decide(
    previous: dict[str, Any] | None,
    alert: Alert,
    min_severity: str,
    now: float = 0.0,
    repeat_after: timedelta = DEFAULT_REPEAT_AFTER,
) -> Action:
    record = previous or {}
    if alert.id in record.get("sent_ids", []):
        return "skip_duplicate"
    is_open = bool(record.get("open"))
    last = record.get("occurred_at")
    older = last is not None and alert.occurred_at < datetime.fromisoformat(last)
    if alert.status == "resolved":
        if not is_open:
            return "skip_not_open"
        return "skip_stale" if older else "send"
    if SEVERITY_ORDER[alert.severity] < SEVERITY_ORDER[min_severity]:
        return "skip_below_threshold"
    if older:
        return "skip_stale"
    if is_open:
        notified_at = record.get("notified_at")
        if notified_at is None or now - float(notified_at) < repeat_after.total_seconds():
            return "skip_repeat"
    return "send"


def record_after_send(previous: dict[str, Any] | None, alert: Alert, now: float) -> dict[str, Any]:
    """The record once ``alert`` was delivered; any claim on the send is released."""
    record = previous or {}
    last = record.get("occurred_at")
    occurred = alert.occurred_at
    if last is not None and datetime.fromisoformat(last) > occurred:
        occurred = datetime.fromisoformat(last)
    return {
        "open": alert.status == "firing",
        "alert_id": alert.id,
        "severity": alert.severity,
        "notified_at": now,
        "occurred_at": occurred.isoformat(),
        "sent_ids": [*record.get("sent_ids", []), alert.id][-SENT_IDS_KEPT:],
        "lease_until": None,
        "lease_id": None,
    }
