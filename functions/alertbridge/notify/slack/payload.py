"""Alert → Slack incoming-webhook message (Block Kit, with a text fallback)."""

from __future__ import annotations

from typing import Any

from alertbridge.alert import Alert

ICON = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
TEXT_MAX = 3000  # a section block's text limit


def message(alert: Alert) -> dict[str, Any]:
    if alert.status == "resolved":
        headline = f":white_check_mark: *Resolved* — {alert.summary}"
    else:
        headline = f"{ICON[alert.severity]} *{alert.severity.upper()}* — {alert.summary}"
    fields = [
        {"type": "mrkdwn", "text": f"*Tenant*\n{alert.tenant_id}"},
        {"type": "mrkdwn", "text": f"*Source*\n{alert.source}"},
        {"type": "mrkdwn", "text": f"*What*\n{alert.resource.kind} {alert.resource.id}"[:2000]},
        {"type": "mrkdwn", "text": f"*When*\n{alert.occurred_at:%Y-%m-%d %H:%M:%S} UTC"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:TEXT_MAX]}},
        {"type": "section", "fields": fields},
    ]
    if alert.errors and alert.status == "firing":
        lines = "\n".join(f"• `{e.code}` {e.message}" for e in alert.errors[:5])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[:TEXT_MAX]}})
    if alert.links:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{link.href}|{link.text}>"}
                    for link in alert.links[:5]
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"dedup_key `{alert.dedup_key}` · alert `{alert.id}`"}
            ],
        }
    )
    fallback = "RESOLVED: " if alert.status == "resolved" else f"{alert.severity.upper()}: "
    return {"text": (fallback + alert.summary)[:TEXT_MAX], "blocks": blocks}
