"""One tenants-file expectation: which alerts are signs of life, and how often they come."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertbridge.durations import Duration
from alertbridge.matching import Match

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class Expectation(BaseModel):
    """Runs that must keep coming: ``every`` (a duration) or ``cron`` (UTC), plus ``grace``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="unique within the tenant")
    match: Match
    every: Duration | None = Field(default=None, description="a run at least this often")
    cron: str | None = Field(
        default=None, description="when runs are due, a 5-field cron expression in UTC"
    )
    grace: Duration = Field(
        default=timedelta(0), description="how late a run may be before it is missing"
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter  # only tenants files with a cron schedule pay for it

        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ValueError(f"cron {value!r} is not a 5-field cron expression (5 * * * *)")
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Expectation:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"expectation {self.name!r} needs exactly one of every or cron")
        return self
