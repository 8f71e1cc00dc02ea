"""The alert's closed vocabularies, apart from the pydantic model.

The tenants file names severities too; keeping these literals in a module of their own
lets the token function validate its tenants file without building the Alert models.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["firing", "resolved"]
Severity = Literal["critical", "error", "warning", "info"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
ENV_NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,127}$"
"""Names of environment variables that hold secrets (the tenants file names them)."""

# Dead letters (alertbridge.pipeline.deadletter): the stage that gave up, and why.
Stage = Literal["normalize", "notify"]
DeadLetterReason = Literal[
    # normalize: the message can never become an alert
    "not_a_pubsub_message",  # the push body is not a Pub/Sub message
    "not_an_envelope",  # attributes or bytes are not an ingest envelope
    "unparseable",  # the source's adapter refused the payload
    "unroutable",  # no tenant: none owns the org/application/account, or the tenant is gone
    "implausible_time",  # a run dated past the allowed skew after receipt
    "normalize_failed",  # an unexpected error on every allowed delivery attempt
    # notify: the alert could not be delivered
    "not_an_alert",
    "destination_not_configured",  # a destination's secret env var is not set
    "delivery_rejected",  # the receiver refused it (4xx other than 429)
    "delivery_failed",  # 429/5xx/timeouts past the retry budget
    "notify_failed",  # an unexpected error on every allowed delivery attempt
]
