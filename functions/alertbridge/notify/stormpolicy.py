"""A destination's ``storm`` block: apart from the storm logic (which needs the Alert
models and logging) because the tenants model, and so the token function, imports it."""

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
