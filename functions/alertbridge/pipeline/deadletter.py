"""Dead letters: one builder and one set of reasons for every stage.

A dead letter is the original bytes, untouched, on ``alertbridge-dead-letter`` with the
original attributes plus why (``dead_letter_reason``, one of ``REASONS``; a bounded
``dead_letter_detail``), when, and at which stage (``failed_stage``: ``normalize`` or
``notify``, which ``alertbridge replay --from-dead-letter`` re-drives differently).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import get_args

from alertbridge.pubsub import OutgoingMessage, bounded_attribute
from alertbridge.runtime import Runtime
from alertbridge.vocabulary import DeadLetterReason as Reason
from alertbridge.vocabulary import Stage

REASONS: frozenset[str] = frozenset(get_args(Reason))
DETAIL_MAX = 1024  # Pub/Sub attribute values: 1,024 bytes


def dead_letter_message(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    reason: Reason,
    detail: str,
    message_id: str | None,
    stage: Stage = "normalize",
    **extra: str,
) -> OutgoingMessage:
    attrs = dict(attributes)
    attrs.update(
        dead_letter_reason=reason,
        dead_letter_detail=bounded_attribute(detail, DETAIL_MAX),  # bytes, not characters
        dead_lettered_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        failed_stage=stage,
        **extra,
    )
    if message_id:
        attrs["original_message_id"] = message_id
    return OutgoingMessage(runtime.settings.dead_letter_topic, data, attrs)
