"""The ``notify.webhook`` block of a tenant: a receiver of signed alert JSON."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from alertbridge.notify.policy import DestinationPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class WebhookDestination(DestinationPolicy):
    """Any HTTPS endpoint that verifies Standard Webhooks signatures. Both the URL (it may
    carry a token) and the ``whsec_`` signing secret are secrets, named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: str = Field(pattern=ENV_NAME_PATTERN)
    secret_env: str = Field(
        pattern=ENV_NAME_PATTERN, description="env var holding the whsec_... signing secret"
    )
    min_severity: Severity = "warning"
