"""The ``notify.teams`` block of a tenant: the Teams Workflows webhook to post cards to."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from alertbridge.notify.policy import DestinationPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class TeamsDestination(DestinationPolicy):
    """A Teams channel's Workflows webhook ("Post to a channel when a webhook request is
    received"); its URL carries its own signature, so it is a secret named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "warning"
