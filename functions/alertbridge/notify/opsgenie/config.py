"""The ``notify.opsgenie`` block of a tenant: which Opsgenie region and API integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.durations import Duration
from alertbridge.notify.stormpolicy import StormPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity

API_URL = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}


class OpsgenieDestination(BaseModel):
    """Opsgenie Alerts API v2; the API integration's key is a secret, named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    region: Literal["us", "eu"] = Field(
        default="us", description="us: api.opsgenie.com, eu: api.eu.opsgenie.com"
    )
    min_severity: Severity = "error"
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

    @property
    def api_url(self) -> str:
        return API_URL[self.region]
