"""Alert → the message a Teams Workflows webhook posts to its channel.

The "Post to a channel when a webhook request is received" flow takes a message whose
``attachments`` hold an Adaptive Card (``contentType``
``application/vnd.microsoft.card.adaptive``, ``content`` the card, version ≤ 1.5 for
Teams) and answers 202 Accepted (learn.microsoft.com, "Create incoming webhooks with
Workflows for Microsoft Teams"; adaptivecards.io schema).
"""

from __future__ import annotations

from typing import Any

from alertbridge.alert import Alert

CARD_VERSION = "1.4"
COLOR = {"critical": "Attention", "error": "Attention", "warning": "Warning", "info": "Accent"}
TEXT_MAX = 2000


def message(alert: Alert) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(alert),
            }
        ],
    }


def card(alert: Alert) -> dict[str, Any]:
    resolved = alert.status == "resolved"
    headline = ("Resolved: " if resolved else f"{alert.severity.upper()}: ") + alert.summary
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": headline[:TEXT_MAX],
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Good" if resolved else COLOR[alert.severity],
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Tenant", "value": alert.tenant_id},
                {"title": "Source", "value": alert.source},
                {"title": "What", "value": f"{alert.resource.kind} {alert.resource.id}"[:500]},
                {"title": "When", "value": f"{alert.occurred_at:%Y-%m-%d %H:%M:%S} UTC"},
            ],
        },
    ]
    if alert.errors and not resolved:
        lines = "\n".join(f"- `{e.code}` {e.message}" for e in alert.errors[:5])
        body.append({"type": "TextBlock", "text": lines[:TEXT_MAX], "wrap": True})
    body.append(
        {
            "type": "TextBlock",
            "text": f"dedup_key {alert.dedup_key} · alert {alert.id}"[:TEXT_MAX],
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if alert.links:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": link.text[:100], "url": link.href}
            for link in alert.links[:5]
        ]
    return content
