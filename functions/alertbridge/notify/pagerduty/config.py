"""The ``notify.pagerduty`` block of a tenant: where and from what severity to page."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.durations import Duration
from alertbridge.notify.stormpolicy import StormPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class PagerDutyDestination(BaseModel):
    """PagerDuty Events v2; the routing key is a secret, so the file names the env var
    that holds it (filled from Secret Manager in production)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "error"
    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="page an incident still firing again after this long (e.g. 4h)",
    )
    storm: StormPolicy | None = Field(
        default_factory=StormPolicy,
        description="fold more than threshold new incidents within window into one "
        "notification; null sends each one",
    )
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")
