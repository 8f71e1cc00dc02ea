"""Durations in the tenants file, spelled as Alertmanager spells them: ``90s``, ``15m``, ``4h``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

DURATION_PATTERN = r"^[1-9][0-9]{0,6}[smhd]$"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """``90s`` / ``15m`` / ``4h`` / ``2d`` → timedelta (Alertmanager's spelling, one unit);
    a timedelta passes through, anything else is refused with the accepted form."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and re.fullmatch(DURATION_PATTERN, value):
        return timedelta(seconds=int(value[:-1]) * _UNIT_SECONDS[value[-1]])
    raise ValueError(f"a duration is a whole number and a unit s, m, h or d (4h), not {value!r}")


def format_duration(value: timedelta) -> str:
    """The largest unit up to hours that divides it (on-call reads ``24h``, ``90m``)."""
    seconds = int(value.total_seconds())
    for unit in "hm":
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]
