"""Which alerts a tenants-file ``match`` selects: expectations (and silences) share it.

A match names fields of the alert (``source``, ``dedup_key``, ``severity``,
``resource_id``, ``labels.<name>``) and a value for each; every named field must match.
Values take ``*`` for any run of characters (fnmatch-style, ``*`` only: ``?`` and ``[``
are literal, since dedup keys and resource ids may contain them). Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, WithJsonSchema

if TYPE_CHECKING:  # the tenants model imports this module: no Alert models at cold start
    from alertbridge.alert import Alert

FIELDS = ("source", "dedup_key", "severity", "resource_id")
LABEL_PREFIX = "labels."
FIELD_PATTERN = r"^(source|dedup_key|severity|resource_id|labels\.[A-Za-z0-9_.-]{1,63})$"


def check_field(name: str) -> str:
    """The field name, or ValueError naming the fields a match accepts."""
    if name in FIELDS or (name.startswith(LABEL_PREFIX) and re.fullmatch(FIELD_PATTERN, name)):
        return name
    raise ValueError(f"match field {name!r} is not one of {', '.join(FIELDS)} or labels.<name>")


def fields_of(alert: Alert) -> dict[str, str]:
    """The alert's matchable fields, flat (what the state store keeps of a dedup key)."""
    out = {
        "source": alert.source,
        "dedup_key": alert.dedup_key,
        "severity": alert.severity,
        "resource_id": alert.resource.id,
    }
    out.update({LABEL_PREFIX + name: value for name, value in alert.labels.items()})
    return out


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def value_matches(pattern: str, value: str) -> bool:
    """``*`` matches any run of characters (also none); everything else is literal."""
    return _compiled(pattern).fullmatch(value) is not None


def matches(match: Mapping[str, str], fields: Mapping[str, str]) -> bool:
    """Every field of ``match`` is present in ``fields`` and its value matches.
    ``fields`` is ``fields_of(alert)``; a label the alert lacks never matches."""
    return all(
        name in fields and value_matches(pattern, fields[name]) for name, pattern in match.items()
    )


def _valid(match: dict[str, str]) -> dict[str, str]:
    if not match:
        raise ValueError("a match names at least one field (it would select every alert)")
    for name, value in match.items():
        check_field(name)
        if not value:
            raise ValueError(f"match field {name!r} has an empty value")
    return match


Match = Annotated[
    dict[str, str],
    AfterValidator(_valid),
    WithJsonSchema(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": FIELD_PATTERN},
            "additionalProperties": {"type": "string", "minLength": 1},
            "description": "field -> value; `*` matches any run of characters",
        }
    ),
]
"""A tenants-file ``match``: validated field names, non-empty values."""
