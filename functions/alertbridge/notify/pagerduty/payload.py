"""Alert → PagerDuty Events v2 event (developer.pagerduty.com, "Send an Alert Event").

Fields: ``routing_key``, ``event_action`` (trigger / resolve), ``dedup_key`` (our
dedup_key, so PagerDuty groups the same failure), ``payload`` {summary ≤ 1024 chars,
source, severity ∈ critical/error/warning/info, timestamp, component, group, class,
custom_details}, ``links``, ``client``. A request body may be at most 512 KB.
"""

from __future__ import annotations

import json
from typing import Any

from alertbridge.alert import Alert

MAX_BODY_BYTES = 512 * 1024
SUMMARY_MAX = 1024


def event(alert: Alert, routing_key: str) -> dict[str, Any]:
    if alert.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.dedup_key}
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "client": "alertbridge",
        "payload": {
            "summary": alert.summary[:SUMMARY_MAX],
            "source": alert.resource.parent or alert.resource.id,
            "severity": alert.severity,
            "timestamp": alert.occurred_at.isoformat().replace("+00:00", "Z"),
            "component": f"{alert.resource.kind}:{alert.resource.id}"[:255],
            "group": f"tenant {alert.tenant_id}",
            "class": alert.source,
            "custom_details": {
                "alert_id": alert.id,
                "tenant_id": alert.tenant_id,
                "errors": [e.model_dump(exclude_none=True) for e in alert.errors],
                "metrics": alert.metrics.model_dump(exclude_none=True),
                "labels": alert.labels,
                "request_id": alert.request_id,
            },
        },
        "links": [{"href": link.href, "text": link.text} for link in alert.links],
    }
    return fit(body)


def fit(body: dict[str, Any]) -> dict[str, Any]:
    """Keep the body under 512 KB: drop custom_details first, then the links."""
    if len(json.dumps(body).encode()) <= MAX_BODY_BYTES:
        return body
    body["payload"]["custom_details"] = {"truncated": "custom details exceeded 512 KB"}
    if len(json.dumps(body).encode()) > MAX_BODY_BYTES:
        body["links"] = []
    return body
