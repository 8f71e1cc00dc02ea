"""Alert storms: when one upstream breaks, page once for the lot, not once per pipeline.

Per (tenant, destination) a record in ``notify-storm`` keeps the times of the latest new
incidents sent (at most ``threshold``). A new incident that would make more than
``threshold`` within ``window`` starts a storm: it and every further new incident are
folded into one storm notification (PagerDuty dedup_key ``alertbridge.storm:<tenant>``,
one Slack message) instead of being sent one by one. The notification is sent when the
storm starts and updated at most once per ``window`` while members keep arriving (by the
member that finds an update due, or by the tick); the tick resolves it once a whole
``window`` passed with no new member. Every step is one compare-and-set on that record, so
concurrent notifier instances start, update and resolve a storm once.

``admit`` and ``due`` are pure (record, alert, clock in; record and decision out).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from alertbridge.alert import Alert, truncate
from alertbridge.logs import get_logger
from alertbridge.notify.policy import StormPolicy

if TYPE_CHECKING:  # the tenants model imports StormPolicy: keep this module light
    from alertbridge.runtime import Runtime

log = get_logger(__name__)
COLLECTION = "notify-storm"
MEMBERS_KEPT = 200  # listed in custom_details; the count goes on past it
TOP = 5


Decision = Literal["send", "fold", "fold_notify"]


def storm_key(tenant_id: str) -> str:
    return f"alertbridge.storm:{tenant_id}"


def record_key(tenant_id: str, destination: str) -> str:
    return f"{tenant_id}|{destination}"


def _member(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "dedup_key": alert.dedup_key,
        "source": alert.source,
        "resource_id": alert.resource.id,
        "error_codes": [e.code for e in alert.errors[:3]],
        "summary": truncate(alert.summary, 200),
    }


def admit(
    current: dict[str, Any] | None,
    alert: Alert,
    destination: str,
    policy: StormPolicy,
    now: float,
) -> tuple[dict[str, Any], Decision]:
    """The storm record once this new incident is counted, and what to do with it."""
    window = policy.window.total_seconds()
    record: dict[str, Any] = dict(current or {})
    record.setdefault("tenant_id", alert.tenant_id)
    record.setdefault("destination", destination)
    record.setdefault("open", False)
    record.setdefault("recent", [])
    storming = bool(record.get("storming"))
    if storming and now - float(record["last_member_at"]) >= window:
        storming = False  # a quiet window passed: over (the tick sends the resolve)
        record.update(storming=False, recent=[])
    if storming:
        members = list(record.get("members", []))
        if any(m["dedup_key"] == alert.dedup_key for m in members):
            return record, "fold"  # the same incident again: already listed
        if len(members) < MEMBERS_KEPT:
            members.append(_member(alert))
        record.update(members=members, count=int(record["count"]) + 1, last_member_at=now)
        if now - float(record.get("notified_at") or 0) >= window:
            record.update(notified_at=now, notified_count=record["count"])
            return record, "fold_notify"
        return record, "fold"
    recent = [t for t in record["recent"] if now - float(t) < window] + [now]
    if len(recent) <= policy.threshold:
        record["recent"] = recent[-policy.threshold :]
        return record, "send"
    record.update(
        storming=True,
        open=True,
        paged_before=len(recent) - 1,
        recent=[],
        started_at=now,
        last_member_at=now,
        members=[_member(alert)],
        count=1,
        notified_at=now,
        notified_count=1,
    )
    return record, "fold_notify"


def summary(record: Mapping[str, Any], tenant_id: str) -> tuple[str, dict[str, Any]]:
    """(one-line summary, custom_details) of a storm: how many, from where, which errors."""
    members = list(record.get("members", []))
    count = int(record.get("count", len(members)))
    sources = Counter(m["source"] for m in members)
    resources = Counter(m["resource_id"] for m in members)
    codes = Counter(code for m in members for code in m.get("error_codes", []))
    started = datetime.fromtimestamp(float(record.get("started_at", 0)), UTC)
    paged_before = int(record.get("paged_before", 0))
    top_sources = ", ".join(f"{name} ({n})" for name, n in sources.most_common(TOP))
    top_codes = ", ".join(f"{code} x{n}" for code, n in codes.most_common(TOP)) or "none"
    text = truncate(
        f"Alert storm for tenant {tenant_id}: {count} new incident(s) since "
        f"{started:%H:%M:%S} UTC folded into this one (after {paged_before} paged one by one); "
        f"sources: {top_sources}; "
        f"top error codes: {top_codes}",
        1024,
    )
    details = {
        "storm": True,
        "tenant_id": tenant_id,
        "count": count,
        "paged_before_storm": paged_before,
        "started_at": started.isoformat(),
        "sources": dict(sources.most_common()),
        "resources": dict(resources.most_common(50)),
        "error_codes": dict(codes.most_common(20)),
        "members": members,
        "members_listed": len(members),
    }
    return text, details


def request(
    destination: str,
    settings: Any,
    record: Mapping[str, Any],
    resolve: bool,
    env: Mapping[str, str],
) -> tuple[str, dict[str, Any]] | None:
    """(url, body) of the storm notification for a destination (None: not supported)."""
    tenant_id = str(record["tenant_id"])
    text, details = summary(record, tenant_id)
    if destination == "pagerduty":
        from alertbridge.notify.pagerduty.payload import fit

        key = env.get(settings.routing_key_env)
        if not key:
            raise KeyError(settings.routing_key_env)
        url = env.get("ALERTBRIDGE_PAGERDUTY_URL") or settings.url
        if resolve:
            dedup_key = storm_key(tenant_id)
            return url, {"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key}
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return url, fit(
            {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": storm_key(tenant_id),
                "client": "alertbridge",
                "payload": {
                    "summary": text,
                    "source": f"tenant {tenant_id}",
                    "severity": "critical",
                    "timestamp": now,
                    "component": "alert storm",
                    "group": f"tenant {tenant_id}",
                    "class": "alertbridge.storm",
                    "custom_details": details,
                },
            }
        )
    if destination == "slack":
        webhook = env.get(settings.webhook_url_env)
        if not webhook:
            raise KeyError(settings.webhook_url_env)
        if resolve:
            line = f":white_check_mark: *Storm over* — {text}"
            return webhook, {"text": f"RESOLVED: {text}"[:3000], "blocks": _blocks(line, [])}
        members = [f"• `{m['dedup_key']}` {m['summary']}" for m in details["members"][:20]]
        line = f":rotating_light: *STORM* — {text}"
        return webhook, {"text": f"STORM: {text}"[:3000], "blocks": _blocks(line, members)}
    return None


def storm_alert(record: Mapping[str, Any], resolve: bool) -> Alert:
    """The storm as an alert of alertbridge's own, for destinations that take alerts through
    their own builder (Teams, Opsgenie, the signed webhook): one incident per tenant."""
    from alertbridge.alert import AlertError, Resource, alert_id

    tenant_id = str(record["tenant_id"])
    text, details = summary(record, tenant_id)
    started = datetime.fromtimestamp(float(record.get("started_at", 0)), UTC)
    status: Literal["firing", "resolved"] = "resolved" if resolve else "firing"
    codes = details["error_codes"]
    return Alert(
        id=alert_id(
            "alertbridge.storm", f"{tenant_id}|{started.isoformat()}|{details['count']}", status
        ),
        dedup_key=storm_key(tenant_id),
        tenant_id=tenant_id,
        source="alertbridge.storm",
        status=status,
        severity="info" if resolve else "critical",
        summary=text,
        occurred_at=started,
        received_at=datetime.now(UTC),
        resource=Resource(kind="alert_storm", id=tenant_id),
        errors=[
            AlertError(code=str(code)[:255], message=f"x{n}") for code, n in list(codes.items())[:5]
        ],
        labels={
            "storm": "true",
            "count": str(details["count"]),
            "members": ", ".join(m["dedup_key"] for m in details["members"][:20])[:255],
        },
    )


def _blocks(headline: str, members: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}}
    ]
    if members:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(members)[:3000]}}
        )
    return blocks


def notify(
    runtime: Runtime, destination: str, settings: Any, record: Mapping[str, Any], resolve: bool
) -> bool:
    """Post the storm notification; True when the destination took it."""
    from alertbridge.notify.delivery import post_json
    from alertbridge.notify.handler import backoff_from_env

    made = request(destination, settings, record, resolve, os.environ)
    headers: dict[str, str] = {}
    if made is None:
        from alertbridge.notify.handler import destination_targets

        alert = storm_alert(record, resolve)
        own = [t for t in destination_targets(runtime, alert, os.environ) if t[0] == destination]
        if not own:
            return True
        _name, _settings, url, body, headers = own[0]
    else:
        url, body = made
    result = post_json(url, body, backoff_from_env(), headers=headers)
    log.info(
        "storm resolved" if resolve else "storm notified",
        destination=destination,
        tenant=record["tenant_id"],
        count=record.get("count"),
        ok=result.ok,
        status=result.status,
    )
    return result.ok


Owed = Literal["resolve", "update"]


def due(record: Mapping[str, Any], window: float, now: float) -> Owed | None:
    """What the tick owes an open storm: its resolve after a quiet window, or an update
    with the members that arrived since the last notification."""
    if not record.get("open"):
        return None
    if now - float(record.get("last_member_at") or 0) >= window:
        return "resolve"
    if (
        record.get("storming")
        and int(record.get("count", 0)) > int(record.get("notified_count", 0))
        and now - float(record.get("notified_at") or 0) >= window
    ):
        return "update"
    return None


def sweep(runtime: Runtime) -> list[str]:
    """The tick's part: resolve storms quiet for a window, send updates owed."""
    now = runtime.clock()
    done: list[str] = []
    for record in runtime.state.find(COLLECTION, "open", True):
        tenant = runtime.tenants.get(str(record.get("tenant_id")))
        destination = str(record.get("destination"))
        settings = getattr(tenant.notify, destination, None) if tenant else None
        policy: StormPolicy | None = getattr(settings, "storm", None)
        if tenant is None or settings is None or policy is None:
            continue
        action = due(record, policy.window.total_seconds(), now)
        if action is None:
            continue
        slot = record_key(tenant.id, destination)
        claim = partial(_claim, action, record.get("last_member_at"), policy, now)
        claimed = runtime.state.update(COLLECTION, slot, claim)
        if claimed is None:
            continue
        if not notify(runtime, destination, settings, claimed, resolve=action == "resolve"):
            runtime.state.update(COLLECTION, slot, partial(undo_owed, action))
            continue
        done.append(f"{tenant.id}|{destination}: {action}")
    return done


def _claim(
    action: Owed, seen: Any, policy: StormPolicy, now: float, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Take on what the tick owes, unless a member arrived or another tick took it."""
    if current is None or current.get("last_member_at") != seen:
        return None  # a member arrived meanwhile: the next tick decides again
    if due(current, policy.window.total_seconds(), now) != action:
        return None
    if action == "resolve":
        return {**current, "open": False, "storming": False, "recent": []}
    return {**current, "notified_at": now, "notified_count": current["count"]}


def undo_owed(action: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The destination refused: owe the notification again at the next tick."""
    if current is None:
        return None
    if action == "resolve":
        return None if current.get("open") else {**current, "open": True}
    return {**current, "notified_at": None, "notified_count": 0}
