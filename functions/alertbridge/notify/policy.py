"""What every destination's block shares, apart from the storm logic (which needs the Alert
models and logging) because the tenants model, and so the token function, imports it: how
often a still-firing incident is sent again, and how storms fold."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.durations import Duration


class StormPolicy(BaseModel):
    """``storm: {threshold: 20, window: 60s}``; ``storm: null`` sends every page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(default=20, ge=1, le=1000)
    window: Duration = Field(
        default=timedelta(seconds=60),
        json_schema_extra={"default": "60s"},
        description="more than threshold new incidents within this long fold into one",
    )


class DestinationPolicy(BaseModel):
    """``repeat_after`` and ``storm``, the same for every destination (Alertmanager's
    repeat_interval, and the folding of a storm into one notification)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="send an incident still firing again after this long (e.g. 4h)",
    )
    storm: StormPolicy | None = Field(
        default_factory=StormPolicy,
        description="fold more than threshold new incidents within window into one "
        "notification; null sends each one",
    )
