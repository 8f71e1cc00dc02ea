"""The ``notify.opsgenie`` block of a tenant: which Opsgenie region and API integration."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from alertbridge.notify.policy import DestinationPolicy
from alertbridge.vocabulary import ENV_NAME_PATTERN, Severity

API_URL = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}


class OpsgenieDestination(DestinationPolicy):
    """Opsgenie Alerts API v2; the API integration's key is a secret, named by env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    region: Literal["us", "eu"] = Field(
        default="us", description="us: api.opsgenie.com, eu: api.eu.opsgenie.com"
    )
    min_severity: Severity = "error"

    @property
    def api_url(self) -> str:
        return API_URL[self.region]
