"""Informatica Cloud Integration Hub events (seed 003): one alert per event that failed.

CIH nests subscription events under their publication event (``childEvents``) and rolls
their state up into the parent's ``descendantState``. The adapter walks the whole tree
and alerts on the event that actually failed, with the failing ``eventHistory``
comment; a cleanly completed event resolves its dedup key.

Status values, from Informatica's documentation ("Event statuses", "Event consumption
statuses", Data Integration Hub "Event State"): Pending, Delayed, Processing,
Pre-processing, Post-processing, Completed/Complete, Error, Discarded, Reprocessed; the
consumption (descendant) states Processing, Final, Delayed, Error, plus NONE for an
event without children (seed 003).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alertbridge.alert import (
    Alert,
    AlertError,
    Metrics,
    Resource,
    Severity,
    Status,
    alert_id,
    bounded,
    compose_key,
    truncate,
)
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.sources import AdapterError
from alertbridge.sources.fields import get_list, get_object, get_text, load_json
from alertbridge.sources.informatica import SPEC
from alertbridge.sources.informatica.config import tenant_for_application
from alertbridge.tenants import Tenants

SOURCE = SPEC.name
MAX_DEPTH = 16
MAX_EVENTS = 1000


def _norm(value: object) -> str:
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


# eventStatus (normalised) → outcome
ERROR_STATES = {"error", "failed", "failure"}
COMPLETE_STATES = {"complete", "completed", "final", "success", "succeeded"}
IN_PROGRESS_STATES = {
    "pending",
    "delayed",
    "processing",
    "preprocessing",
    "postprocessing",
    "readyforprocessing",
}
DISCARDED_STATES = {"discarded"}
SUPERSEDED_STATES = {"reprocessed"}
KNOWN_EVENT_STATES = (
    ERROR_STATES | COMPLETE_STATES | IN_PROGRESS_STATES | DISCARDED_STATES | SUPERSEDED_STATES
)
# descendantState (normalised): only ERROR means a child failed.
DESCENDANT_ERROR = {"error"}
# Fields read as text (ids also as integers, as the Events REST API returns them).
TEXT_FIELDS = (
    "applicationName",
    "topicName",
    "pubSubName",
    "eventType",
    "eventStatus",
    "descendantState",
    "createTime",
    "completionTime",
)
ID_FIELDS = ("eventId", "runId", "parentEventId")
KNOWN_DESCENDANT_STATES = {
    "none",
    "processing",
    "final",
    "complete",
    "completed",
    "delayed",
    "error",
}


@dataclass(frozen=True)
class Decision:
    status: Status
    severity: Severity
    reason: str


def classify(event: dict[str, Any]) -> Decision | None:
    """What one event means for on-call; None for an event still in progress."""
    state = _norm(event.get("eventStatus", ""))
    failed_rows = _count(event, "sourceFailedCount") + _count(event, "targetFailedCount")
    if state in ERROR_STATES:
        return Decision("firing", "error", "failed")
    if state in COMPLETE_STATES:
        if failed_rows > 0:
            return Decision("firing", "warning", "completed with failed rows")
        return Decision("resolved", "info", "completed")
    if state in DISCARDED_STATES:
        return Decision("firing", "warning", "discarded: the data was not consumed")
    if state in IN_PROGRESS_STATES or state in SUPERSEDED_STATES:
        return None
    return Decision("firing", "warning", f"unknown eventStatus {event.get('eventStatus')!r}")


def _count(event: dict[str, Any], key: str) -> int:
    value = event.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # in UTC now: an offset on 0001-01-01 or 9999-12-31 leaves datetime's range
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


Walked = tuple[dict[str, Any], dict[str, Any] | None, str]


def walk_paths(root: dict[str, Any]) -> Iterator[Walked]:
    """Every event in the tree with its parent and path (``childEvents[0].childEvents[2]``),
    iteratively, bounded in depth and count."""
    stack: list[tuple[dict[str, Any], dict[str, Any] | None, int, str]] = [(root, None, 0, "")]
    seen = 0
    while stack:
        event, parent, depth, path = stack.pop()
        seen += 1
        if seen > MAX_EVENTS:
            raise AdapterError(f"more than {MAX_EVENTS} events in one tree")
        if depth > MAX_DEPTH:
            raise AdapterError(f"{path}: childEvents nested deeper than {MAX_DEPTH}")
        yield event, parent, path
        where = f"{path}." if path else ""
        children = get_list(event, "childEvents", where)
        for index, child in reversed(list(enumerate(children))):
            if not isinstance(child, dict):
                raise AdapterError(f"{where}childEvents[{index}] must be an object")
            stack.append((child, event, depth + 1, f"{where}childEvents[{index}]"))


def walk(root: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every event in the tree with its parent, iteratively, bounded in depth and count."""
    for event, parent, _ in walk_paths(root):
        yield event, parent


def check_event(event: dict[str, Any], path: str) -> None:
    """The types of every field the adapter reads; AdapterError naming the first wrong one."""
    where = f"{path}." if path else ""
    for name in TEXT_FIELDS:
        get_text(event, name, where)
    for name in ID_FIELDS:
        get_text(event, name, where, numbers=True)
    for index, entry in enumerate(_history(event, where)):
        if not isinstance(entry, dict):
            raise AdapterError(f"{where}eventHistory[{index}] must be an object")
        entry_at = f"{where}eventHistory[{index}]."
        get_text(entry, "eventStatusName", entry_at)
        get_text(entry, "comments", entry_at, numbers=True)


def _history(event: dict[str, Any], where: str = "") -> list[Any]:
    """``eventHistory``: a list of entries, or (XML with one entry, some exports) one."""
    if isinstance(event.get("eventHistory"), dict):
        return [get_object(event, "eventHistory", where)]
    return get_list(event, "eventHistory", where)


def _failing_comment(event: dict[str, Any]) -> str | None:
    entries = _history(event)
    for entry in reversed(entries):
        if _norm(entry.get("eventStatusName", "")) in ERROR_STATES and entry.get("comments"):
            return str(entry["comments"])
    for entry in reversed(entries):
        if entry.get("comments"):
            return str(entry["comments"])
    return None


def dedup_key(tenant_id: str, event: dict[str, Any]) -> str:
    parts = [
        event.get(k) or "-" for k in ("applicationName", "topicName", "pubSubName", "eventType")
    ]
    return compose_key([SOURCE, tenant_id, *parts])


def _kind(event: dict[str, Any]) -> str:
    etype = _norm(event.get("eventType", ""))
    return "cih_subscription" if "subscription" in etype else "cih_publication"


def tenant_for(event: dict[str, Any], envelope: IngestEnvelope, tenants: Tenants) -> str:
    """The application mapping wins over the Tenant-ID the request came with."""
    app = event.get("applicationName")
    mapped = tenant_for_application(tenants, app) if isinstance(app, str) else None
    if mapped is not None:
        return mapped.id
    if envelope.tenant_id:
        return envelope.tenant_id
    raise AdapterError(f"no tenant for CIH application {app!r}")


def _alert(
    tenant_id: str,
    event: dict[str, Any],
    parent: dict[str, Any] | None,
    decision: Decision,
    received_at: datetime,
    request_id: str,
) -> Alert:
    kind = _kind(event)
    what = "subscription" if kind == "cih_subscription" else "publication"
    name = event.get("pubSubName") or "?"
    app, topic = event.get("applicationName") or "?", event.get("topicName") or "?"
    created, completed = _time(event.get("createTime")), _time(event.get("completionTime"))
    occurred = completed or created or received_at
    comment = _failing_comment(event)
    counts = (
        f"rows read {event.get('sourceSuccessCount', '?')} ok/"
        f"{event.get('sourceFailedCount', '?')} failed, written "
        f"{event.get('targetSuccessCount', '?')} ok/{event.get('targetFailedCount', '?')} failed"
    )
    if decision.status == "resolved":
        summary = (
            f"CIH {what} {name} of {app} on topic {topic} completed (event {event.get('eventId')})"
        )
    else:
        summary = (
            f"CIH {what} {name} of {app} on topic {topic} {decision.reason} "
            f"(event {event.get('eventId')}"
            + (f", run {event['runId']}" if event.get("runId") else "")
            + f"): {comment or 'no comment'}; {counts}"
        )
    errors = []
    if decision.status == "firing":
        errors.append(
            AlertError(
                code=str(event.get("eventStatus") or "unknown"),
                message=comment or decision.reason,
                scope=f"event {event.get('eventId')}",
            )
        )
    duration = int((completed - created).total_seconds() * 1000) if created and completed else None
    labels = {
        "application": str(app),
        "topic": str(topic),
        "pubSubName": str(name),
        "eventType": str(event.get("eventType") or ""),
        "eventId": str(event.get("eventId")),
        "eventStatus": str(event.get("eventStatus") or ""),
    }
    if event.get("runId"):
        labels["runId"] = str(event["runId"])
    if parent is not None:
        labels["parentEventId"] = str(parent.get("eventId"))
    if _norm(event.get("eventStatus", "")) not in KNOWN_EVENT_STATES:
        labels["unknown_status"] = str(event.get("eventStatus"))
    labels = {key: bounded(value) for key, value in labels.items()}
    return Alert(
        id=alert_id(SOURCE, event.get("eventId"), decision.status),
        dedup_key=dedup_key(tenant_id, event),
        tenant_id=tenant_id,
        source=SOURCE,
        status=decision.status,
        severity=decision.severity,
        summary=truncate(summary),
        occurred_at=occurred,
        received_at=received_at,
        resource=Resource(
            kind=kind,
            id=bounded(str(event.get("eventId"))),
            name=bounded(str(name)),
            parent=bounded(str(parent.get("eventId"))) if parent else None,
        ),
        errors=errors,
        metrics=Metrics(
            records_read=_nonneg(event.get("sourceSuccessCount")),
            records_read_failed=_nonneg(event.get("sourceFailedCount")),
            records_written=_nonneg(event.get("targetSuccessCount")),
            records_write_failed=_nonneg(event.get("targetFailedCount")),
            duration_ms=duration,
        ),
        labels=labels,
        request_id=request_id,
    )


def _nonneg(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def alerts_for_event(
    root: dict[str, Any], envelope: IngestEnvelope, tenants: Tenants
) -> list[Alert]:
    tenant_id = tenant_for(root, envelope, tenants)
    alerts: list[Alert] = []
    events = []
    for event, parent, path in walk_paths(root):
        check_event(event, path)
        events.append((event, parent))
    parent_of = {id(event): parent for event, parent in events}
    has_failed_descendant: set[int] = set()
    for event, parent in events:
        decision = classify(event)
        if decision is None:
            continue
        alerts.append(
            _alert(tenant_id, event, parent, decision, envelope.received_at, envelope.request_id)
        )
        if decision.status == "firing":
            ancestor = parent
            while ancestor is not None and id(ancestor) not in has_failed_descendant:
                has_failed_descendant.add(id(ancestor))
                ancestor = parent_of.get(id(ancestor))
    # A parent whose descendantState says ERROR but whose failing child is not in the
    # payload: alert on the parent itself, so the failure is not silently lost.
    for event, parent in events:
        if (
            _norm(event.get("descendantState", "")) in DESCENDANT_ERROR
            and id(event) not in has_failed_descendant
        ):
            key = dedup_key(tenant_id, event)
            decision = Decision("firing", "error", "has a failed child event (not in this payload)")
            alerts = [a for a in alerts if a.dedup_key != key]
            alerts.append(
                _alert(
                    tenant_id, event, parent, decision, envelope.received_at, envelope.request_id
                )
            )
    return alerts


def parse(envelope: IngestEnvelope, tenants: Tenants) -> list[Alert]:
    event = load_json(envelope.data, "CIH event")
    if not isinstance(event, dict):
        raise AdapterError("CIH event is not a JSON object")
    return alerts_for_event(event, envelope, tenants)
