"""Which alerts a silence (or an expectation) means: exact fields with fnmatch-style ``*``."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from alertbridge.alert import Alert

FIELDS = ("source", "dedup_key", "severity", "resource_id")
LABEL_PREFIX = "labels."


def field_value(alert: Alert, name: str) -> str | None:
    """The alert's value for a match field (None: the alert has no such label)."""
    if name == "resource_id":
        return alert.resource.id
    if name.startswith(LABEL_PREFIX):
        return alert.labels.get(name[len(LABEL_PREFIX) :])
    if name in FIELDS:
        return str(getattr(alert, name))
    raise ValueError(f"unknown match field {name!r}: one of {', '.join(FIELDS)}, labels.<name>")


def matches(alert: Alert, match: Mapping[str, str]) -> bool:
    """Every field matches its pattern (``*`` any run of characters); an empty match
    matches nothing, so a typo never silences a whole tenant."""
    if not match:
        return False
    for name, pattern in match.items():
        value = field_value(alert, name)
        if value is None or not fnmatchcase(value, pattern):
            return False
    return True
