"""What the notifier does on each scheduler tick (alertbridge-tick, the local worker's
timer): auto-resolve quiet incidents, send incidents held by silences that have ended,
and update or resolve alert storms."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from alertbridge.alert import Alert
from alertbridge.logs import get_logger
from alertbridge.notify import silences, storm
from alertbridge.notify.autoresolve import sweep
from alertbridge.notify.handler import SendInFlight, deliver
from alertbridge.runtime import Runtime

log = get_logger(__name__)


@dataclass
class TickReport:
    resolved: list[Alert] = field(default_factory=list)
    released: list[Alert] = field(default_factory=list)
    storms: list[str] = field(default_factory=list)  # "<tenant>|<destination>: <action>"


def tick(runtime: Runtime) -> TickReport:
    """One round of every periodic duty; each is idempotent, so a repeated tick is safe."""
    report = TickReport(resolved=sweep(runtime))
    report.released = release(runtime)
    report.storms = storm.sweep(runtime)
    return report


def release(runtime: Runtime) -> list[Alert]:
    """Send every held incident that no active silence matches any more, through the
    page-once path (an incident already open is not paged again), then mark it sent."""
    now = runtime.clock()
    out: list[Alert] = []
    for record in runtime.state.find(silences.HELD, "pending", True):
        if runtime.tenants.get(str(record.get("tenant_id"))) is None:
            continue
        alert = Alert.model_validate_json(record["alert"])
        if silences.active_for(runtime.state, alert, now) is not None:
            continue
        try:
            outcomes = deliver(runtime, alert)
        except SendInFlight:
            continue  # another attempt is sending it; the next tick looks again
        runtime.state.update(silences.HELD, silences.held_key(alert), partial(_released, alert.id))
        log.info(
            "silence ended: held incident sent",
            tenant=alert.tenant_id,
            dedup_key=alert.dedup_key,
            alert_id=alert.id,
            silence_id=record.get("silence_id"),
            outcomes=[o.action for o in outcomes],
        )
        out.append(alert)
    return out


def _released(alert_id: str, current: dict[str, object] | None) -> dict[str, object] | None:
    return silences.released(dict(current) if current else None, alert_id)
