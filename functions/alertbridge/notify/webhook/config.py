"""The ``notify.webhook`` block of a tenant: a receiver of signed alert JSON."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.durations import Duration
from alertbridge.notify.stormpolicy import StormPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class WebhookDestination(BaseModel):
    """Any HTTPS endpoint that verifies Standard Webhooks signatures. Both the URL (it may
    carry a token) and the ``whsec_`` signing secret are secrets, named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: str = Field(pattern=ENV_NAME_PATTERN)
    secret_env: str = Field(
        pattern=ENV_NAME_PATTERN, description="env var holding the whsec_... signing secret"
    )
    min_severity: Severity = "warning"
    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="re-send an incident still firing after this long (e.g. 4h)",
    )
    storm: StormPolicy | None = Field(
        default_factory=StormPolicy,
        description="fold more than threshold new incidents within window into one "
        "notification; null sends each one",
    )
