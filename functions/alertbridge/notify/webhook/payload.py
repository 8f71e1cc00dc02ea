"""Alert → a Standard Webhooks request (github.com/standard-webhooks, spec 1.0.0).

The body is the spec's recommended small envelope: ``{"type": "alert.firing" |
"alert.resolved", "timestamp": <ISO 8601>, "data": <the Alert JSON>}``. It is signed as
the exact bytes sent: ``webhook-signature: v1,<base64 HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<body>">`` with the ``whsec_`` secret, by the
``standardwebhooks`` reference library. ``webhook-id`` is ``msg_<alert id>``, the same
on every retry and redelivery of that alert so a receiver can drop duplicates;
``webhook-timestamp`` is the wall-clock second of signing (receivers refuse one more
than 5 minutes off theirs).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from standardwebhooks import Webhook

from alertbridge.alert import Alert


def signer(secret: str) -> Webhook:
    """The signer for a ``whsec_`` secret; ValueError (naming no value) when it is not one."""
    if not secret.startswith("whsec_"):
        raise ValueError("not a whsec_ secret")
    try:
        return Webhook(secret)
    except Exception:  # binascii.Error, EmptyWebhookSecretError: never echo the value
        raise ValueError("not a whsec_ secret") from None


def body(alert: Alert) -> bytes:
    envelope = {
        "type": f"alert.{alert.status}",
        "timestamp": alert.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": alert.model_dump(mode="json"),
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def request(
    alert: Alert, webhook: Webhook, now: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body bytes, headers): sign exactly the bytes that will be posted."""
    data = body(alert)
    msg_id = f"msg_{alert.id}"
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": webhook.sign(msg_id, at, data.decode()),
    }
    return data, headers
