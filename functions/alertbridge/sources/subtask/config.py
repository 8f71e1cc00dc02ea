"""The ``subtask`` block of a tenant in the tenants file."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alertbridge.sources.subtask import SPEC
from alertbridge.vocabulary import Severity

if TYPE_CHECKING:
    from alertbridge.tenants import Tenant

CONFIG_KEY = SPEC.config_key


class SubtaskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity_by_msg_code: dict[int, Severity] = Field(
        default_factory=dict, description="msgCode → severity; other codes are `error`"
    )

    @field_validator("severity_by_msg_code")
    @classmethod
    def _codes_in_range(cls, value: dict[int, Severity]) -> dict[int, Severity]:
        bad = [code for code in value if not 1 <= code <= 254]
        if bad:
            raise ValueError(f"msgCode keys must be 1-254, got {bad}")
        return value


def settings_of(tenant: Tenant) -> SubtaskSettings:
    return cast(SubtaskSettings, getattr(tenant, CONFIG_KEY))
