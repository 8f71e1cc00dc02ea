"""Silences (maintenance windows): firing alerts that match are held back from on-call.

A silence belongs to a tenant, matches alerts on ``source``, ``dedup_key``, ``severity``,
``resource_id`` and ``labels.<name>`` (values with ``*``, see matching.py) and is active
from ``starts_at`` until ``ends_at``. The notifier holds a matching firing alert (it is
still on the tenant topic for every other consumer) and remembers it per incident in
``notify-silenced``; a resolve is never held, so an incident on-call already has open
is closed even under a silence (the complaint users of every anchor have). When the
silence ends, the sweep sends the incidents still firing that were held, through the
same page-once path, so one that was already open is not paged twice.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from alertbridge.alert import Alert
from alertbridge.matching import FIELDS, LABEL_PREFIX, fields_of, matches
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants

SILENCES = "silences"
HELD = "notify-silenced"  # per (tenant, dedup_key): the latest firing alert held back
COMMENT_MAX = 500
# A tenant's silences are read once per this many seconds per process, not once per alert
# (a query per alert was a quarter of the notifier's Firestore calls). A silence added or
# expired in this process applies at once; one added elsewhere (the CLI, another
# instance) applies within this time.
CACHE_S = float(os.environ.get("ALERTBRIDGE_SILENCE_CACHE_S", "1.0"))
_cache: weakref.WeakKeyDictionary[StateStore, dict[str, tuple[float, list[dict[str, Any]]]]]
_cache = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _forget(state: StateStore) -> None:
    with _cache_lock:
        _cache.pop(state, None)


def _tenant_silences(state: StateStore, tenant_id: str) -> list[dict[str, Any]]:
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(state, {}).get(tenant_id)
    if cached is not None and now - cached[0] < CACHE_S:
        return cached[1]
    found = state.find(SILENCES, "tenant_id", tenant_id)
    with _cache_lock:
        _cache.setdefault(state, {})[tenant_id] = (now, found)
    return found


class SilenceError(ValueError):
    """A silence that cannot be stored or found; the message names the field and rule."""


def parse_match(items: Sequence[str]) -> dict[str, str]:
    """``FIELD=VALUE`` pairs → a match; refuses unknown fields, empty values, repeats."""
    if not items:
        raise SilenceError("match: at least one FIELD=VALUE is required")
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not value:
            raise SilenceError(f"match {item!r}: expected FIELD=VALUE with a non-empty value")
        label = name[len(LABEL_PREFIX) :] if name.startswith(LABEL_PREFIX) else None
        if name not in FIELDS and not label:
            raise SilenceError(
                f"match {name!r}: field must be one of {', '.join(FIELDS)} or labels.<name>"
            )
        if name in out:
            raise SilenceError(f"match {name!r}: given twice")
        out[name] = value
    if set(out.values()) == {"*"}:
        raise SilenceError("match: at least one value must be more than '*'")
    return out


def add(
    state: StateStore,
    tenants: Tenants,
    tenant_id: str,
    match: Mapping[str, str],
    ends_at: float,
    comment: str,
    now: float,
) -> dict[str, Any]:
    """Store a silence active from ``now`` to ``ends_at``; returns it (with its id)."""
    if tenants.get(tenant_id) is None:
        raise SilenceError(f"tenant {tenant_id!r}: not in the tenants file")
    if ends_at <= now:
        raise SilenceError("until: must be in the future")
    if not comment.strip():
        raise SilenceError("comment: required (say why, for the next on-call)")
    silence_id = uuid.uuid4().hex[:12]
    record = {
        "id": silence_id,
        "tenant_id": tenant_id,
        "match": dict(match),
        "starts_at": now,
        "ends_at": ends_at,
        "comment": comment.strip()[:COMMENT_MAX],
        "created_at": now,
    }
    stored = state.update(SILENCES, silence_id, lambda current: None if current else record)
    _forget(state)
    if stored is None:  # 48 random bits collided: never in practice, refuse rather than mix
        raise SilenceError("id: collided, try again")
    return stored


def listed(state: StateStore, tenant_id: str) -> list[dict[str, Any]]:
    """A tenant's silences, latest ending first (expired ones too, for the record)."""
    found = state.find(SILENCES, "tenant_id", tenant_id)
    return sorted(found, key=lambda s: float(s["ends_at"]), reverse=True)


def expire(state: StateStore, silence_id: str, now: float) -> dict[str, Any]:
    """End a silence now (its held incidents are sent by the next sweep)."""

    def end(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None or float(current["ends_at"]) <= now:
            return None
        return {**current, "ends_at": now}

    updated = state.update(SILENCES, silence_id, end)
    _forget(state)
    if updated is None:
        current = state.get(SILENCES, silence_id)
        if current is None:
            raise SilenceError(f"id {silence_id!r}: no such silence")
        return current  # already over: expiring it again changes nothing
    stored = state.get(SILENCES, silence_id)
    assert stored is not None
    return stored


def is_active(silence: Mapping[str, Any], now: float) -> bool:
    return float(silence["starts_at"]) <= now < float(silence["ends_at"])


def active_for(state: StateStore, alert: Alert, now: float) -> dict[str, Any] | None:
    """The active silence of the alert's tenant that matches it (the one ending last)."""
    hits = [
        s
        for s in _tenant_silences(state, alert.tenant_id)
        if is_active(s, now) and s.get("match") and matches(s["match"], fields_of(alert))
    ]
    return max(hits, key=lambda s: float(s["ends_at"])) if hits else None


def hold(state: StateStore, alert: Alert, silence_id: str) -> None:
    """Remember the latest firing alert of a held incident, to send when silences end."""

    def put(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current and datetime.fromisoformat(current["occurred_at"]) > alert.occurred_at:
            return None  # a newer one is held already
        return {
            "tenant_id": alert.tenant_id,
            "dedup_key": alert.dedup_key,
            "pending": True,
            "silence_id": silence_id,
            "occurred_at": alert.occurred_at.isoformat(),
            "alert": alert.model_dump_json(),
        }

    state.update(HELD, held_key(alert), put)


def settle(state: StateStore, alert: Alert) -> None:
    """A resolve newer than the held firing: nothing is left to send when silences end."""

    def done(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None or not current.get("pending"):
            return None
        if datetime.fromisoformat(current["occurred_at"]) > alert.occurred_at:
            return None
        return {**current, "pending": False}

    state.update(HELD, held_key(alert), done)


def released(current: dict[str, Any] | None, alert_id: str) -> dict[str, Any] | None:
    """Mark a held incident sent, unless a newer firing was held meanwhile."""
    if current is None or not current.get("pending"):
        return None
    if Alert.model_validate_json(current["alert"]).id != alert_id:
        return None
    return {**current, "pending": False}


def held_key(alert: Alert) -> str:
    return f"{alert.tenant_id}|{alert.dedup_key}"


def describe(silence: Mapping[str, Any], now: float) -> str:
    """One line for ``alertbridge silence list``."""
    match = " ".join(f"{k}={v}" for k, v in sorted(silence["match"].items()))
    ends = datetime.fromtimestamp(float(silence["ends_at"]), UTC).isoformat()
    state = "active" if is_active(silence, now) else "expired"
    return f"{silence['id']}  {state:<7}  until {ends}  {match}  # {silence['comment']}"
