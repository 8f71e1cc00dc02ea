"""Auto-resolve: an incident that stays quiet for its tenant's ``resolve_after`` is resolved.

Some sources never send a resolve (sub-task messages are always failures), so a tenant may
opt in per source (``notify.auto_resolve: {liveramp.subtask: 24h}``). The notifier records
when each (tenant, dedup_key) last fired (collection ``notify-fired``); a sweep on a
scheduler tick picks the open records quiet for long enough (``due``, pure: records and a
clock in, alerts out) and publishes a ``resolved`` alert for each to the tenant's topic, so
the notifier sends the resolve and every other consumer of the topic sees it too. The
alert is deterministic (id, occurred_at) for a given last firing, so a sweep repeated after
a crash publishes the same alert, which the notifier then skips as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from alertbridge.alert import Alert, Resource, alert_id, truncate
from alertbridge.durations import format_duration
from alertbridge.logs import get_logger
from alertbridge.notify.handler import FIRED
from alertbridge.pipeline.normalize import alert_message
from alertbridge.runtime import Runtime
from alertbridge.tenants import Tenants

log = get_logger(__name__)


def due(records: Iterable[dict[str, Any]], tenants: Tenants, now: float) -> list[Alert]:
    """The resolved alerts to publish at ``now`` for these ``notify-fired`` records."""
    out: list[Alert] = []
    for record in records:
        tenant = tenants.get(str(record.get("tenant_id")))
        if tenant is None or not record.get("open"):
            continue
        after = tenant.notify.auto_resolve.get(record["source"])
        if after is None or now - float(record["last_fired_at"]) < after.total_seconds():
            continue
        out.append(_resolved(record, after, now))
    return out


def _resolved(record: dict[str, Any], after: timedelta, now: float) -> Alert:
    quiet = format_duration(after)
    last_fired = float(record["last_fired_at"])
    return Alert(
        id=alert_id(record["source"], "auto-resolve", record["dedup_key"], last_fired),
        dedup_key=record["dedup_key"],
        tenant_id=record["tenant_id"],
        source=record["source"],
        status="resolved",
        severity="info",
        summary=truncate(f"auto-resolved after {quiet} quiet: {record['summary']}"),
        occurred_at=datetime.fromtimestamp(last_fired, UTC) + after,
        received_at=datetime.fromtimestamp(now, UTC),
        resource=Resource(**record["resource"]),
        labels={"auto_resolved_after": quiet},
    )


def sweep(runtime: Runtime) -> list[Alert]:
    """One round: publish the due resolves, then mark their records closed (publish
    first: a crash in between publishes the same alert again, never loses it)."""
    records = runtime.state.find(FIRED, "open", True)
    alerts = due(records, runtime.tenants, runtime.clock())
    if not alerts:
        return []
    messages = []
    for alert in alerts:
        tenant = runtime.tenants.get(alert.tenant_id)
        assert tenant is not None  # due() only returns alerts of known tenants
        messages.append(alert_message(alert, tenant.topic_name))
    runtime.publisher.publish_and_wait(messages)
    fired_at = {r["tenant_id"] + "|" + r["dedup_key"]: r["last_fired_at"] for r in records}
    for alert in alerts:
        key = f"{alert.tenant_id}|{alert.dedup_key}"
        runtime.state.update(FIRED, key, partial(_close, fired_at[key]))
        log.info(
            "auto-resolved",
            tenant=alert.tenant_id,
            dedup_key=alert.dedup_key,
            alert_id=alert.id,
            quiet=alert.labels["auto_resolved_after"],
        )
    return alerts


def _close(last_fired_at: float, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """Close the record unless it fired again since the sweep read it."""
    if current is None or not current.get("open") or current["last_fired_at"] != last_fired_at:
        return None
    return {**current, "open": False}
