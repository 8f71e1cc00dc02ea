"""The notifier: one alert from a tenant topic → each configured destination, paging once.

Runs as the ``notify`` CloudEvent function (a push subscription per tenant topic, ordered
by dedup_key so a resolve never overtakes its trigger) or as ``alertbridge worker --role
notify`` locally. A delivery that is refused (4xx) or keeps failing is dead-lettered with
the reason and the alert's bytes, never dropped; a send is recorded only after it
succeeded, so a redelivered message is sent again rather than lost. Before posting, a
send is claimed in the state store by compare-and-set (a lease), so a redelivery that
races a slow attempt does not send it twice.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from alertbridge.alert import Alert
from alertbridge.expectations.check import observe_expectations, sighting
from alertbridge.logs import get_logger
from alertbridge.notify import silences, storm
from alertbridge.notify.decide import decide, record_after_send
from alertbridge.notify.delivery import Backoff, Result, Transport, post_json
from alertbridge.notify.opsgenie import payload as opsgenie
from alertbridge.notify.opsgenie.config import OpsgenieDestination
from alertbridge.notify.pagerduty import payload as pagerduty
from alertbridge.notify.pagerduty.config import PagerDutyDestination
from alertbridge.notify.policy import StormPolicy
from alertbridge.notify.slack import payload as slack
from alertbridge.notify.slack.config import SlackDestination
from alertbridge.notify.teams import payload as teams
from alertbridge.notify.teams.config import TeamsDestination
from alertbridge.notify.webhook import payload as webhook
from alertbridge.notify.webhook.config import WebhookDestination
from alertbridge.pipeline.deadletter import dead_letter_message
from alertbridge.runtime import Runtime
from alertbridge.state import Change
from alertbridge.tenants import Tenant
from alertbridge.vocabulary import DeadLetterReason as Reason

log = get_logger(__name__)
COLLECTION = "notify"
FIRED = "notify-fired"  # per (tenant, dedup_key): when it last fired, for auto-resolve
# The whole delivery (every destination, retries included) ends within this budget, below
# the push subscription's ack deadline (120 s in Terraform and the local stack), so
# Pub/Sub does not redeliver while an attempt is still sending.
DEFAULT_BUDGET_S = 50.0
# A claim outlives the budget by this much: an attempt that is still posting keeps it;
# one whose instance died frees the send for a redelivery this long after the budget.
LEASE_MARGIN_S = 10.0
# Work done beside a delivery (declared expectations' signs of life); a few threads serve
# every delivery.
_BESIDE = ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify-beside")


class SendInFlight(RuntimeError):
    """Another attempt holds a live claim on this send: nack, Pub/Sub redelivers later
    (by then it was recorded and is skipped, or its instance died and the claim expired)."""


Destination = (
    PagerDutyDestination
    | SlackDestination
    | TeamsDestination
    | OpsgenieDestination
    | WebhookDestination
)
# (destination, its settings, url, body, headers); a bytes body is posted as is (signed)
Target = tuple[str, Destination, str, dict[str, Any] | bytes, dict[str, str]]


@dataclass
class Riders:
    """Record updates that decide nothing the page needs (the sign of life ``suggest``
    reads, the incident's last firing for auto-resolve): they ride along with the first
    destination's claim in one commit, one Firestore RPC per page fewer, or are written
    alone when no claim carried them (silenced, no destination, a failure before it)."""

    changes: list[Change]
    written: bool = False

    def write_alone(self, runtime: Runtime) -> None:
        if not self.written:
            for change in self.changes:
                runtime.state.update(*change)
            self.written = True


@dataclass(frozen=True)
class Delivered:
    destination: str
    action: str
    result: Result | None = None


def backoff_from_env() -> Backoff:
    env = os.environ
    return Backoff(
        attempts=int(env.get("ALERTBRIDGE_NOTIFY_ATTEMPTS", "5")),
        base_s=float(env.get("ALERTBRIDGE_NOTIFY_BACKOFF_BASE", "0.5")),
        cap_s=float(env.get("ALERTBRIDGE_NOTIFY_BACKOFF_CAP", "8")),
        timeout_s=float(env.get("ALERTBRIDGE_NOTIFY_TIMEOUT", "5")),
    )


def _secret(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise KeyError(name)
    return value


def destination_targets(runtime: Runtime, alert: Alert, env: Mapping[str, str]) -> list[Target]:
    """(destination, its settings, url, body, headers) for every destination the tenant
    configured. Raises KeyError naming the env var when a secret is missing."""
    tenant = runtime.tenants.get(alert.tenant_id)
    if tenant is None:
        return []
    out: list[Target] = []
    pd = tenant.notify.pagerduty
    if pd is not None:
        key = env.get(pd.routing_key_env)
        if not key:
            raise KeyError(pd.routing_key_env)
        url = env.get("ALERTBRIDGE_PAGERDUTY_URL") or pd.url
        out.append(("pagerduty", pd, url, pagerduty.event(alert, key), {}))
    sl = tenant.notify.slack
    if sl is not None:
        out.append(("slack", sl, _secret(env, sl.webhook_url_env), slack.message(alert), {}))
    tm = tenant.notify.teams
    if tm is not None:
        out.append(("teams", tm, _secret(env, tm.webhook_url_env), teams.message(alert), {}))
    og = tenant.notify.opsgenie
    if og is not None:
        api_url = env.get("ALERTBRIDGE_OPSGENIE_URL") or og.api_url
        url, body, headers = opsgenie.request(alert, api_url, _secret(env, og.api_key_env))
        out.append(("opsgenie", og, url, body, headers))
    wh = tenant.notify.webhook
    if wh is not None:
        try:
            signer = webhook.signer(_secret(env, wh.secret_env))
        except ValueError:
            raise KeyError(f"{wh.secret_env} (with a whsec_ secret)") from None
        data, headers = webhook.request(alert, signer)
        out.append(("webhook", wh, _secret(env, wh.url_env), data, headers))
    return out


def handle_alert(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str | None = None,
    backoff: Backoff | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[Delivered]:
    """Deliver one alert to each of its tenant's destinations, in parallel, within one
    total budget; raise SendInFlight (so Pub/Sub redelivers later) when another attempt
    holds a live claim on a send this one would make."""
    backoff = backoff or backoff_from_env()
    try:
        alert = Alert.model_validate_json(data)
    except ValueError as exc:
        _dead_letter(runtime, data, attributes, "not_an_alert", str(exc)[:500], message_id, "-")
        return [Delivered("-", "dead_lettered")]
    tenant = runtime.tenants.get(alert.tenant_id)
    if tenant is None:  # e.g. removed from the tenants file
        detail = f"tenant {alert.tenant_id!r} is not in the tenants file"
        _dead_letter(runtime, data, attributes, "unroutable", detail, message_id, "-")
        return [Delivered("-", "dead_lettered")]
    # expectations: a matching alert is a run seen. Recorded with the delivery, not before
    # it (it decides nothing the page needs), and written before returning, so a failure
    # to record still fails this attempt and Pub/Sub redelivers it.
    seen = sighting(runtime, alert)
    riders = Riders([seen] if seen is not None else [])
    declared = _BESIDE.submit(observe_expectations, runtime, alert) if tenant.expectations else None
    try:
        return _notify(
            runtime, alert, tenant, data, attributes, message_id, backoff, transport, sleep, riders
        )
    finally:
        try:
            riders.write_alone(runtime)
        finally:
            if declared is not None:
                declared.result()


def _notify(
    runtime: Runtime,
    alert: Alert,
    tenant: Tenant,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str | None,
    backoff: Backoff,
    transport: Transport | None,
    sleep: Callable[[float], None] | None,
    riders: Riders,
) -> list[Delivered]:
    try:
        targets = destination_targets(runtime, alert, os.environ)
    except KeyError as missing:
        detail = f"secret env var {missing.args[0]} is not set"
        _dead_letter(
            runtime, data, attributes, "destination_not_configured", detail, message_id, "-"
        )
        return [Delivered("-", "dead_lettered")]
    if alert.source in tenant.notify.auto_resolve:
        riders.changes.append((FIRED, fired_key(alert), partial(_fired, alert, runtime.clock())))
    if alert.status == "firing" and targets:
        silence = silences.active_for(runtime.state, alert, runtime.clock())
        if silence is not None:
            silences.hold(runtime.state, alert, silence["id"])
            runtime.metrics.count("notify_suppressed", "silence")
            log.info(
                "suppressed by silence",
                silence_id=silence["id"],
                tenant=alert.tenant_id,
                dedup_key=alert.dedup_key,
                alert_id=alert.id,
            )
            return [Delivered(target[0], "silenced") for target in targets]
    elif alert.status == "resolved":
        silences.settle(runtime.state, alert)
    return _send_all(
        runtime, alert, targets, data, attributes, message_id, backoff, transport, sleep, riders
    )


def deliver(runtime: Runtime, alert: Alert, backoff: Backoff | None = None) -> list[Delivered]:
    """Send an alert that was held back (a silence ended) through the page-once path."""
    targets = destination_targets(runtime, alert, os.environ)
    data = alert.to_json_bytes()
    attributes = {"tenant_id": alert.tenant_id, "source": alert.source}
    return _send_all(
        runtime, alert, targets, data, attributes, None, backoff or backoff_from_env(), None, None
    )


def _send_all(
    runtime: Runtime,
    alert: Alert,
    targets: list[Target],
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str | None,
    backoff: Backoff,
    transport: Transport | None,
    sleep: Callable[[float], None] | None,
    riders: Riders | None = None,
) -> list[Delivered]:
    """Every destination in parallel within one total budget; SendInFlight when another
    attempt holds a live claim on one of the sends. ``riders`` go with the first claim."""
    budget_s = float(os.environ.get("ALERTBRIDGE_NOTIFY_BUDGET", str(DEFAULT_BUDGET_S)))
    deadline = time.monotonic() + budget_s

    def one(target: Target) -> Delivered:
        return _deliver(
            runtime,
            alert,
            target,
            data,
            attributes,
            message_id,
            backoff,
            budget_s,
            deadline,
            transport,
            sleep or time.sleep,
            riders if target is targets[0] else None,
        )

    if not targets:
        return []
    if len(targets) == 1:
        outcomes = [one(targets[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            outcomes = list(pool.map(one, targets))
    in_flight = [o.destination for o in outcomes if o.action == "in_flight"]
    if in_flight:
        raise SendInFlight(f"{alert.id} is being sent to {', '.join(in_flight)} by another attempt")
    return outcomes


def _deliver(
    runtime: Runtime,
    alert: Alert,
    target: Target,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str | None,
    backoff: Backoff,
    budget_s: float,
    deadline: float,
    transport: Transport | None,
    sleep: Callable[[float], None],
    riders: Riders | None,
) -> Delivered:
    """Claim the send (compare-and-set lease), post, then record it or release the claim.
    The claim's commit also writes ``riders`` (all or nothing)."""
    destination, settings, url, body, headers = target
    key = f"{alert.tenant_id}|{destination}|{alert.dedup_key}"
    claim_id = uuid.uuid4().hex
    now = runtime.clock()
    action: list[str] = ["send"]
    was_open = [False]

    def claim(current: dict[str, Any] | None) -> dict[str, Any] | None:
        was_open[0] = bool((current or {}).get("open"))
        action[0] = decide(current, alert, settings.min_severity, now, settings.repeat_after)
        if action[0] != "send":
            return None
        lease_until = (current or {}).get("lease_until")
        if lease_until is not None and float(lease_until) > now:
            action[0] = "in_flight"
            return None
        return {
            **(current or {"open": False}),
            "lease_until": now + budget_s + LEASE_MARGIN_S,
            "lease_id": claim_id,
        }

    started = time.perf_counter()
    if riders is not None and riders.changes and not riders.written:
        runtime.state.update_together([(COLLECTION, key, claim), *riders.changes])
        riders.written = True
    else:
        runtime.state.update(COLLECTION, key, claim)
    if action[0] != "send":
        if action[0] == "in_flight":
            log.info(
                "send claimed by another attempt",
                destination=destination,
                alert_id=alert.id,
                tenant=alert.tenant_id,
            )
        return Delivered(destination, action[0])
    policy: StormPolicy | None = getattr(settings, "storm", None)
    if policy is not None and alert.status == "firing" and not was_open[0]:
        folded = _fold_into_storm(runtime, alert, destination, settings, policy, key, now)
        if folded is not None:
            return folded
    claimed = time.perf_counter()
    result = post_json(
        url, body, backoff, transport=transport, sleep=sleep, deadline=deadline, headers=headers
    )
    posted = time.perf_counter()
    if result.ok:
        sent_at = runtime.clock()
        runtime.state.update(
            COLLECTION, key, lambda current: record_after_send(current, alert, sent_at)
        )
        recorded = time.perf_counter()
        log.info(
            "notified",
            destination=destination,
            alert_id=alert.id,
            tenant=alert.tenant_id,
            status=alert.status,
            attempts=result.attempts,
            # where the page's time went: the claim (and a new incident's storm count), the
            # receiver's answers (retries and their backoff included), the record after it;
            # `make bench` prints their percentiles
            claim_ms=round(1000 * (claimed - started), 1),
            post_ms=round(1000 * (posted - claimed), 1),
            record_ms=round(1000 * (recorded - posted), 1),
        )
        return Delivered(destination, "sent", result)
    runtime.state.update(COLLECTION, key, partial(_release, claim_id))
    reason: Reason = "delivery_rejected" if result.rejected else "delivery_failed"
    detail = (
        f"{destination} answered {result.status} after {result.attempts} attempt(s): "
        f"{result.detail}"
    )
    _dead_letter(runtime, data, attributes, reason, detail, message_id, destination)
    return Delivered(destination, "dead_lettered", result)


def _fold_into_storm(
    runtime: Runtime,
    alert: Alert,
    destination: str,
    settings: Destination,
    policy: StormPolicy,
    key: str,
    now: float,
) -> Delivered | None:
    """Count a new incident towards the tenant's storm (compare-and-set); when it is past
    the threshold, record it as folded instead of sending it (None: send it as usual)."""
    decision: list[storm.Decision] = ["send"]

    def count(current: dict[str, Any] | None) -> dict[str, Any] | None:
        record, decision[0] = storm.admit(current, alert, destination, policy, now)
        return record

    storm_slot = storm.record_key(alert.tenant_id, destination)
    record = runtime.state.update(storm.COLLECTION, storm_slot, count)
    if decision[0] == "send" or record is None:
        return None
    runtime.state.update(
        COLLECTION, key, lambda current: {**record_after_send(current, alert, now), "open": False}
    )  # its id is recorded (a redelivery is a duplicate), the incident is not open alone
    runtime.metrics.count("notify_suppressed", "storm")
    log.info(
        "folded into storm",
        destination=destination,
        tenant=alert.tenant_id,
        dedup_key=alert.dedup_key,
        alert_id=alert.id,
        storm_count=record.get("count"),
    )
    if decision[0] == "fold_notify" and not storm.notify(
        runtime, destination, settings, record, resolve=False
    ):
        runtime.state.update(storm.COLLECTION, storm_slot, partial(storm.undo_owed, "update"))
    return Delivered(destination, "folded")


def _release(claim_id: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop our claim so a replay of the dead letter can send at once; leave others'."""
    if current is None or current.get("lease_id") != claim_id:
        return None
    return {**current, "lease_until": None, "lease_id": None}


def fired_key(alert: Alert) -> str:
    return f"{alert.tenant_id}|{alert.dedup_key}"


def _fired(alert: Alert, now: float, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """When the incident last fired (receipt time) and whether it is open, for the
    auto-resolve sweep. Like the destinations' records, an alert older than the last one
    that moved it changes nothing: a late firing does not re-open what a newer resolve
    closed, a late resolve does not close what a newer firing opened."""
    record = current or {}
    closed_at, last = record.get("closed_at"), record.get("last_occurred")
    if alert.status == "resolved":
        if current is None or (last and alert.occurred_at < datetime.fromisoformat(last)):
            return None
        if closed_at and datetime.fromisoformat(closed_at) > alert.occurred_at:
            return {**current, "open": False}
        return {**current, "open": False, "closed_at": alert.occurred_at.isoformat()}
    if closed_at and alert.occurred_at < datetime.fromisoformat(closed_at):
        return None
    if last and datetime.fromisoformat(last) > alert.occurred_at:
        last_occurred = last
    else:
        last_occurred = alert.occurred_at.isoformat()
    return {
        "tenant_id": alert.tenant_id,
        "dedup_key": alert.dedup_key,
        "source": alert.source,
        "open": True,
        "last_fired_at": now,
        "last_occurred": last_occurred,
        "closed_at": closed_at,
        "summary": alert.summary,
        "resource": alert.resource.model_dump(exclude_none=True),
    }


def _dead_letter(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    reason: Reason,
    detail: str,
    message_id: str | None,
    destination: str,
) -> None:
    message = dead_letter_message(
        runtime, data, attributes, reason, detail, message_id, "notify", destination=destination
    )
    runtime.publisher.publish_and_wait([message])
    log.warning(
        "notification dead-lettered",
        reason=reason,
        destination=destination,
        detail=detail[:300],
        request_id=attributes.get("request_id"),
    )
