"""The ``notify.pagerduty`` block of a tenant: where and from what severity to page."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from alertbridge.notify.policy import DestinationPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class PagerDutyDestination(DestinationPolicy):
    """PagerDuty Events v2; the routing key is a secret, so the file names the env var
    that holds it (filled from Secret Manager in production)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "error"
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")
