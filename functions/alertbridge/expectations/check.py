"""Missing and late runs: signs of life in, a firing ``alertbridge.expectation`` alert out.

The notifier sees every alert of every tenant topic; ``observe`` (its first step) records
each one twice in the state store: per (tenant, dedup_key) the last ``HISTORY`` times it
was seen (collection ``seen``, what ``suggest`` reads: it needs no expectation declared
first, so a team can learn its own schedules), and per declared expectation that matches,
the last sign of life (collection ``expectations``: time, alert id, status). ``check``,
on the scheduler tick, publishes a firing alert to the tenant's topic for each expectation
whose next run is later than its ``grace``; the next matching alert resolves it.

A sign of life is dated by when it occurred (capped at now: a skewed sender clock cannot
push it into the future), so a run delivered late still counts for its slot. Ids are
deterministic (the firing from its deadline, the resolve from the firing), so a check or
an observe repeated after a crash publishes the same alert, which the notifier skips.
The firing is published before it is recorded and the resolve only once the firing was
recorded, so on the ordered tenant topic a resolve never precedes its firing.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import Any

from croniter import croniter

from alertbridge.alert import Alert, Resource, alert_id, compose_key, truncate
from alertbridge.durations import format_duration
from alertbridge.expectations.config import Expectation
from alertbridge.logs import get_logger
from alertbridge.matching import fields_of, matches
from alertbridge.pipeline.normalize import alert_message
from alertbridge.runtime import Runtime
from alertbridge.state import Change
from alertbridge.tenants import Tenant

log = get_logger(__name__)

SOURCE = "alertbridge.expectation"
EXPECTATIONS = "expectations"  # per (tenant, expectation name): last sign of life, open
SEEN = "seen"  # per (tenant, dedup_key): the last HISTORY times it was seen
# 50 runs: two months of a daily job, two days of an hourly one; enough for a median and
# a spread, and a Firestore document stays a few KB.
HISTORY = 50
MIN_RUNS = 3  # fewer intervals than this say nothing about a schedule


def dedup_key(tenant_id: str, name: str) -> str:
    return compose_key([SOURCE, tenant_id, name])


def _key(tenant_id: str, name: str) -> str:
    return f"{tenant_id}|{name}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---- the schedule (pure) ----


def expected_by(expectation: Expectation, base: float, seen: bool = True) -> float:
    """When the next run is due after ``base`` (the last sign of life, or when the check
    first saw the expectation). For cron, a run seen shortly before a slot (within grace,
    at most half the period) is that slot's run, so a slightly early run is not missed."""
    if expectation.every is not None:
        return base + expectation.every.total_seconds()
    assert expectation.cron is not None  # the model requires one of the two
    start = datetime.fromtimestamp(base, UTC)
    slot = croniter(expectation.cron, start).get_next(datetime).timestamp()
    if seen:
        previous = croniter(expectation.cron, start).get_prev(datetime).timestamp()
        early = min(expectation.grace.total_seconds(), (slot - previous) / 2)
        if slot - base <= early:
            after = datetime.fromtimestamp(slot, UTC)
            slot = croniter(expectation.cron, after).get_next(datetime).timestamp()
    return slot


def _schedule(expectation: Expectation) -> str:
    if expectation.every is not None:
        return f"every {format_duration(expectation.every)}"
    return f"cron '{expectation.cron}'"


def overdue(
    expectation: Expectation, tenant_id: str, record: dict[str, Any], now: float
) -> Alert | None:
    """The firing alert to publish at ``now`` for this ``expectations`` record, if any."""
    if record.get("open"):
        return None
    last = record.get("last_seen_at")
    base = float(last) if last is not None else float(record["since"])
    due = expected_by(expectation, base, seen=last is not None)
    deadline = due + expectation.grace.total_seconds()
    if now < deadline:
        return None
    grace = format_duration(expectation.grace)
    if last is None:
        seen = f"no run seen since {_iso(base)}"
    else:
        seen = (
            f"last run seen {_iso(base)} ({record.get('last_status')} alert "
            f"{record.get('last_alert_id')})"
        )
    name = expectation.name
    return Alert(
        id=alert_id(SOURCE, tenant_id, name, "firing", deadline),
        dedup_key=dedup_key(tenant_id, name),
        tenant_id=tenant_id,
        source=SOURCE,
        status="firing",
        severity="error",
        summary=truncate(
            f"missing run: expectation {name} ({_schedule(expectation)}) expected a run by "
            f"{_iso(due)} + {grace} grace; {seen}"
        ),
        occurred_at=datetime.fromtimestamp(deadline, UTC),
        received_at=datetime.fromtimestamp(now, UTC),
        resource=Resource(kind="expectation", id=name, parent=tenant_id),
        labels={
            "expectation": name,
            "expected_by": _iso(due),
            "grace": grace,
            "last_seen_at": _iso(last) if last is not None else "",
            "last_alert_id": str(record.get("last_alert_id") or ""),
        },
    )


def resolved(tenant_id: str, name: str, record: dict[str, Any], now: float) -> Alert:
    """The resolve of the open firing in ``record``: its id follows from the firing's."""
    deadline = float(record["fired_at"])
    return Alert(
        id=alert_id(SOURCE, tenant_id, name, "resolved", record["fired_id"]),
        dedup_key=dedup_key(tenant_id, name),
        tenant_id=tenant_id,
        source=SOURCE,
        status="resolved",
        severity="info",
        summary=truncate(
            f"run is back: expectation {name} saw a {record.get('last_status')} alert "
            f"{record.get('last_alert_id')} at {_iso(float(record['last_seen_at']))}"
        ),
        occurred_at=datetime.fromtimestamp(max(now, deadline), UTC),
        received_at=datetime.fromtimestamp(now, UTC),
        resource=Resource(kind="expectation", id=name, parent=tenant_id),
        labels={"expectation": name, "last_alert_id": str(record.get("last_alert_id"))},
    )


# ---- state updates (compare-and-set functions) ----


def _remember(
    alert: Alert, fields: dict[str, str], at: float, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    record = current or {"tenant_id": alert.tenant_id, "dedup_key": alert.dedup_key}
    ids = list(record.get("ids", []))
    if alert.id in ids:  # a redelivery is not another run
        return None
    return {
        **record,
        # a list of pairs: label names may hold dots, which Firestore reads as paths
        "fields": [{"name": k, "value": v} for k, v in sorted(fields.items())],
        "times": sorted([*record.get("times", []), at])[-HISTORY:],
        "ids": [*ids, alert.id][-HISTORY:],
    }


def _fresh(tenant_id: str, name: str, now: float) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "name": name, "since": now, "open": False}


def _create(fresh: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if current is not None else fresh


def _sign_of_life(
    tenant_id: str, name: str, alert: Alert, at: float, now: float, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    record = current or _fresh(tenant_id, name, now)
    last = record.get("last_seen_at")
    if last is not None and at <= float(last):  # older or the same run again
        return None
    return {
        **record,
        "last_seen_at": at,
        "last_alert_id": alert.id,
        "last_status": alert.status,
        "last_dedup_key": alert.dedup_key,
    }


def _mark_open(
    alert: Alert, decided_on: Any, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    record = current or {}
    if record.get("open") and record.get("fired_id") == alert.id:
        return None
    return {
        **record,
        "open": True,
        "fired_id": alert.id,
        "fired_at": alert.occurred_at.timestamp(),
        "fired_after": decided_on,
    }


def _close(fired_id: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    if current is None or not current.get("open") or current.get("fired_id") != fired_id:
        return None
    return {**current, "open": False}


# ---- the runtime side ----


def observe(runtime: Runtime, alert: Alert) -> list[Alert]:
    """Record ``alert`` as a sign of life; resolve the open missing-run alerts it matches.
    Returns the resolves it published."""
    seen = sighting(runtime, alert)
    if seen is not None:
        runtime.state.update(*seen)
    return observe_expectations(runtime, alert)


def sighting(runtime: Runtime, alert: Alert) -> Change | None:
    """The ``seen`` record's update for ``alert`` (None for no tenant or our own alerts),
    for the caller to write: the notifier has it ride along with its claim's commit."""
    tenant = runtime.tenants.get(alert.tenant_id)
    if tenant is None or alert.source == SOURCE:  # our own alerts are no run
        return None
    at = min(alert.occurred_at.timestamp(), runtime.clock())
    remember = partial(_remember, alert, fields_of(alert), at)
    return SEEN, f"{tenant.id}|{alert.dedup_key}", remember


def observe_expectations(runtime: Runtime, alert: Alert) -> list[Alert]:
    """The last sign of life of every declared expectation ``alert`` matches; resolve the
    open missing-run alerts among them. Returns the resolves it published."""
    tenant = runtime.tenants.get(alert.tenant_id)
    if tenant is None or alert.source == SOURCE or not tenant.expectations:
        return []
    now = runtime.clock()
    at = min(alert.occurred_at.timestamp(), now)
    fields = fields_of(alert)
    out: list[Alert] = []
    for expectation in tenant.expectations:
        if not matches(expectation.match, fields):
            continue
        key = _key(tenant.id, expectation.name)
        record = runtime.state.update(
            EXPECTATIONS, key, partial(_sign_of_life, tenant.id, expectation.name, alert, at, now)
        )
        if record is not None and record.get("open"):
            out.append(_resolve(runtime, tenant, expectation.name, record, now))
    return out


def _resolve(
    runtime: Runtime, tenant: Tenant, name: str, record: dict[str, Any], now: float
) -> Alert:
    """Publish the resolve, then close the record (a crash in between publishes it again)."""
    alert = resolved(tenant.id, name, record, now)
    runtime.publisher.publish_and_wait([alert_message(alert, tenant.topic_name)])
    runtime.state.update(EXPECTATIONS, _key(tenant.id, name), partial(_close, record["fired_id"]))
    log.info("expected run is back", tenant=tenant.id, expectation=name, alert_id=alert.id)
    return alert


def check(runtime: Runtime) -> list[Alert]:
    """One tick: publish a firing alert for every expectation whose run is overdue."""
    now = runtime.clock()
    fired: list[Alert] = []
    for tenant in runtime.tenants:
        for expectation in tenant.expectations:
            key = _key(tenant.id, expectation.name)
            record = runtime.state.get(EXPECTATIONS, key)
            if record is None:  # first sight: the wait for a first run starts now
                fresh = _fresh(tenant.id, expectation.name, now)
                runtime.state.update(EXPECTATIONS, key, partial(_create, fresh))
                record = runtime.state.get(EXPECTATIONS, key) or fresh
            alert = overdue(expectation, tenant.id, record, now)
            if alert is None:
                continue
            runtime.publisher.publish_and_wait([alert_message(alert, tenant.topic_name)])
            decided_on = record.get("last_seen_at")
            runtime.state.update(EXPECTATIONS, key, partial(_mark_open, alert, decided_on))
            fired.append(alert)
            log.warning(
                "expected run is missing",
                tenant=tenant.id,
                expectation=expectation.name,
                alert_id=alert.id,
            )
            current = runtime.state.get(EXPECTATIONS, key) or {}
            if current.get("open") and current.get("last_seen_at") != decided_on:
                # a run arrived while this check decided: it resolves what was just fired
                _resolve(runtime, tenant, expectation.name, current, now)
    return fired


# ---- suggest ----


@dataclass(frozen=True)
class Suggestion:
    """A proposed expectation for one dedup key, from the runs already seen."""

    dedup_key: str
    runs: int
    median_s: float
    spread_s: float
    every: timedelta
    grace: timedelta
    last_seen_at: float
    declared: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        tail = self.dedup_key.split(":", 2)[-1] if ":" in self.dedup_key else self.dedup_key
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", tail).strip("-.") or "run"
        return slug[:63]


def _round(seconds: float, up: bool = False) -> timedelta:
    """To whole minutes from a minute on (whole seconds below): schedules are in minutes."""
    unit = 60 if seconds >= 60 else 1
    steps = -(-seconds // unit) if up else round(seconds / unit)
    return timedelta(seconds=max(1, int(steps)) * unit)


def propose(times: Iterable[float]) -> tuple[int, float, float, timedelta, timedelta] | None:
    """(runs, median interval, spread, every, grace) from sign-of-life times, or None when
    too few. Spread is the largest distance of an interval from the median; grace is twice
    that, at least 5 % of the interval and a minute, rounded up to a whole minute."""
    ordered = sorted(set(times))
    if len(ordered) < MIN_RUNS:
        return None
    intervals = [b - a for a, b in pairwise(ordered)]
    median = statistics.median(intervals)
    spread = max(abs(i - median) for i in intervals)
    every = _round(median)
    grace = _round(max(2 * spread, median / 20, 60.0), up=True)
    return len(ordered), median, spread, every, grace


def suggest(runtime: Runtime, tenant_id: str) -> list[Suggestion]:
    """A proposed ``every``/``grace`` for each dedup key of the tenant seen often enough,
    naming the declared expectations that already match it."""
    tenant = runtime.tenants.get(tenant_id)
    if tenant is None:
        raise KeyError(tenant_id)
    out: list[Suggestion] = []
    for record in runtime.state.find(SEEN, "tenant_id", tenant_id):
        proposal = propose(float(t) for t in record.get("times", []))
        if proposal is None:
            continue
        runs, median, spread, every, grace = proposal
        fields = {f["name"]: f["value"] for f in record.get("fields", [])}
        declared = [e.name for e in tenant.expectations if matches(e.match, fields)]
        out.append(
            Suggestion(
                record["dedup_key"],
                runs,
                median,
                spread,
                every,
                grace,
                max(float(t) for t in record["times"]),
                declared,
            )
        )
    return sorted(out, key=lambda s: s.dedup_key)
