"""Alert → Opsgenie Alerts API v2 requests (docs.opsgenie.com/docs/alert-api).

Create: ``POST /v2/alerts`` with ``message`` (≤ 130 chars), ``alias`` (≤ 512 chars;
the key Opsgenie de-duplicates on and closes by: our dedup_key, at most 255 chars),
``description`` (≤ 15000), ``priority`` P1-P5, ``details`` (string → string),
``source``, ``entity``, ``tags``. Close: ``POST
/v2/alerts/{alias}/close?identifierType=alias``. Both carry ``Authorization: GenieKey
<key>`` and are processed asynchronously: 202 ``{"result": "Request will be processed",
"requestId": …}``. Hosts: api.opsgenie.com, api.eu.opsgenie.com for EU accounts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from alertbridge.alert import Alert

MESSAGE_MAX = 130
DESCRIPTION_MAX = 15000
PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}


def request(alert: Alert, api_url: str, api_key: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, body, headers) creating the alert when firing, closing it by alias when resolved."""
    headers = {"Authorization": f"GenieKey {api_key}"}
    base = api_url.rstrip("/") + "/v2/alerts"
    if alert.status == "resolved":
        url = f"{base}/{quote(alert.dedup_key, safe='')}/close?identifierType=alias"
        close: dict[str, Any] = {
            "source": "alertbridge",
            "user": "alertbridge",
            "note": f"resolved: {alert.summary}"[:25000],
        }
        return url, close, headers
    details = {
        "alert_id": alert.id,
        "tenant_id": alert.tenant_id,
        "source": alert.source,
        "resource": f"{alert.resource.kind}:{alert.resource.id}",
        "dedup_key": alert.dedup_key,
        **{f"error.{i}": f"{e.code} {e.message}" for i, e in enumerate(alert.errors[:5])},
        **{f"label.{k}": str(v) for k, v in alert.labels.items()},
    }
    if alert.request_id:
        details["request_id"] = alert.request_id
    lines = [alert.summary, ""]
    lines += [f"{e.code}: {e.message}" for e in alert.errors[:20]]
    lines += [f"{link.text}: {link.href}" for link in alert.links[:5]]
    body: dict[str, Any] = {
        "message": alert.summary[:MESSAGE_MAX],
        "alias": alert.dedup_key,
        "description": "\n".join(lines)[:DESCRIPTION_MAX],
        "priority": PRIORITY[alert.severity],
        "source": "alertbridge",
        "entity": (alert.resource.parent or alert.resource.id)[:512],
        "tags": [alert.source, f"tenant:{alert.tenant_id}"],
        "details": {k: v[:8000] for k, v in details.items()},
    }
    return base, body, headers
