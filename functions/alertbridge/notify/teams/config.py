"""The ``notify.teams`` block of a tenant: the Teams Workflows webhook to post cards to."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.durations import Duration
from alertbridge.notify.stormpolicy import StormPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity


class TeamsDestination(BaseModel):
    """A Teams channel's Workflows webhook ("Post to a channel when a webhook request is
    received"); its URL carries its own signature, so it is a secret named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "warning"
    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="post an incident still firing again after this long (e.g. 4h)",
    )
    storm: StormPolicy | None = Field(
        default_factory=StormPolicy,
        description="fold more than threshold new incidents within window into one "
        "notification; null sends each one",
    )
