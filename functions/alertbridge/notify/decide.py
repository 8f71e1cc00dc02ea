"""Page once: what to send for an alert, given what this destination was last sent.

The record per (tenant, destination, dedup_key) says whether an incident is open. A
firing alert opens it (sent once; repeats are not sent again); a resolve is sent only
for an open incident and closes it. Alerts below the destination's minimum severity are
not sent and change nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from alertbridge.alert import SEVERITY_ORDER, Alert

Action = Literal["send", "skip_repeat", "skip_not_open", "skip_below_threshold"]


def decide(previous: dict[str, Any] | None, alert: Alert, min_severity: str) -> Action:
    is_open = bool(previous and previous.get("open"))
    if alert.status == "resolved":
        return "send" if is_open else "skip_not_open"
    if SEVERITY_ORDER[alert.severity] < SEVERITY_ORDER[min_severity]:
        return "skip_below_threshold"
    if is_open:
        return "skip_repeat"
    return "send"


def record_after_send(alert: Alert) -> dict[str, Any]:
    return {"open": alert.status == "firing", "alert_id": alert.id, "severity": alert.severity}
