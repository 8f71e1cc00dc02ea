"""The ingest envelope: raw bytes exactly as received, plus who/what/when attributes.

Ingress functions publish one envelope per source event to ``alertbridge-ingest``;
the normaliser reads it back. The bytes are never rewritten, so a dead-lettered or
replayed message is the sender's original.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

ENVELOPE_VERSION = "1"
# Set on the raw copy of an event the ingress normalised itself (pipeline/inline.py). The
# normaliser's subscription filters those out; where a filter is not applied (the emulator
# up to at least 0.8.20 ignores filters) the normaliser acknowledges them unread.
NORMALIZED_ATTRIBUTE = "normalized"
NORMALIZED_INLINE = "inline"
SLOW_PATH_FILTER = f"NOT attributes:{NORMALIZED_ATTRIBUTE}"


def normalized_inline(attributes: Mapping[str, str]) -> bool:
    return attributes.get(NORMALIZED_ATTRIBUTE) == NORMALIZED_INLINE


class EnvelopeError(ValueError):
    pass


@dataclass(frozen=True)
class IngestEnvelope:
    data: bytes = field(repr=False)
    source: str
    request_id: str
    received_at: datetime
    content_type: str = "application/json"
    tenant_id: str | None = None
    account: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    message_id: str | None = None

    def attributes(self) -> dict[str, str]:
        attrs = {
            "envelope_version": ENVELOPE_VERSION,
            "source": self.source,
            "request_id": self.request_id,
            "received_at": self.received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "content_type": self.content_type,
            **self.extra,
        }
        if self.tenant_id is not None:
            attrs["tenant_id"] = self.tenant_id
        if self.account is not None:
            attrs["account"] = self.account
        return attrs

    @classmethod
    def from_message(
        cls, data: bytes, attributes: Mapping[str, str], message_id: str | None = None
    ) -> IngestEnvelope:
        attrs = dict(attributes)
        try:
            source = attrs.pop("source")
            request_id = attrs.pop("request_id")
            received_at = datetime.fromisoformat(attrs.pop("received_at").replace("Z", "+00:00"))
        except (KeyError, ValueError) as exc:
            raise EnvelopeError(f"not an ingest envelope: missing or bad attribute {exc}") from None
        attrs.pop("envelope_version", None)
        return cls(
            data=data,
            source=source,
            request_id=request_id,
            received_at=received_at,
            content_type=attrs.pop("content_type", "application/json"),
            tenant_id=attrs.pop("tenant_id", None),
            account=attrs.pop("account", None),
            extra=attrs,
            message_id=message_id,
        )
