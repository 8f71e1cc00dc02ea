"""The ``notify.slack`` block of a tenant: the incoming webhook to post to."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from alertbridge.notify.policy import DestinationPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class SlackDestination(DestinationPolicy):
    """A Slack incoming webhook; its URL is a secret, named by env var like the routing key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "warning"
