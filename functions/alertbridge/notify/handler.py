"""The notifier: one alert from a tenant topic → each configured destination, paging once.

Runs as the ``notify`` CloudEvent function (a push subscription per tenant topic, ordered
by dedup_key so a resolve never overtakes its trigger) or as ``alertbridge worker --role
notify`` locally. A delivery that is refused (4xx) or keeps failing is dead-lettered with
the reason and the alert's bytes, never dropped; state is recorded only after a delivery
succeeded, so a redelivered message is sent again rather than lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from alertbridge.alert import Alert
from alertbridge.logs import get_logger
from alertbridge.normalize import dead_letter_message
from alertbridge.notify import pagerduty, slack
from alertbridge.notify.decide import decide, record_after_send
from alertbridge.notify.delivery import Backoff, Result, post_json
from alertbridge.runtime import Runtime

log = get_logger(__name__)
COLLECTION = "notify"


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


def _targets(
    runtime: Runtime, alert: Alert, env: Mapping[str, str]
) -> list[tuple[str, str, str, dict[str, object]]]:
    """(destination, min_severity, url, body) for every destination the tenant configured.
    Raises KeyError naming the env var when a secret is missing."""
    tenant = runtime.tenants.get(alert.tenant_id)
    if tenant is None:
        return []
    out: list[tuple[str, str, str, dict[str, object]]] = []
    pd = tenant.notify.pagerduty
    if pd is not None:
        key = env.get(pd.routing_key_env)
        if not key:
            raise KeyError(pd.routing_key_env)
        url = env.get("ALERTBRIDGE_PAGERDUTY_URL") or pd.url
        out.append(("pagerduty", pd.min_severity, url, pagerduty.event(alert, key)))
    sl = tenant.notify.slack
    if sl is not None:
        webhook = env.get(sl.webhook_url_env)
        if not webhook:
            raise KeyError(sl.webhook_url_env)
        out.append(("slack", sl.min_severity, webhook, slack.message(alert)))
    return out


def handle_alert(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str | None = None,
    backoff: Backoff | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[Delivered]:
    backoff = backoff or backoff_from_env()
    try:
        alert = Alert.model_validate_json(data)
    except ValueError as exc:
        _dead_letter(runtime, data, attributes, "not_an_alert", str(exc)[:500], message_id, "-")
        return [Delivered("-", "dead_lettered")]
    if runtime.tenants.get(alert.tenant_id) is None:  # e.g. removed from the tenants file
        detail = f"tenant {alert.tenant_id!r} is not in the tenants file"
        _dead_letter(runtime, data, attributes, "unknown_tenant", detail, message_id, "-")
        return [Delivered("-", "dead_lettered")]
    try:
        targets = _targets(runtime, alert, os.environ)
    except KeyError as missing:
        detail = f"secret env var {missing.args[0]} is not set"
        _dead_letter(
            runtime, data, attributes, "destination_not_configured", detail, message_id, "-"
        )
        return [Delivered("-", "dead_lettered")]
    outcomes: list[Delivered] = []
    for destination, min_severity, url, body in targets:
        key = f"{alert.tenant_id}|{destination}|{alert.dedup_key}"
        action = decide(runtime.state.get(COLLECTION, key), alert, min_severity)
        if action != "send":
            outcomes.append(Delivered(destination, action))
            continue
        result = post_json(url, body, backoff, session=session, sleep=sleep or time.sleep)
        if result.ok:
            runtime.state.update(COLLECTION, key, _replace_with(record_after_send(alert)))
            log.info(
                "notified",
                destination=destination,
                alert_id=alert.id,
                tenant=alert.tenant_id,
                status=alert.status,
                attempts=result.attempts,
            )
            outcomes.append(Delivered(destination, "sent", result))
        else:
            reason = "delivery_rejected" if result.rejected else "delivery_failed"
            detail = (
                f"{destination} answered {result.status} after {result.attempts} attempt(s): "
                f"{result.detail}"
            )
            _dead_letter(runtime, data, attributes, reason, detail, message_id, destination)
            outcomes.append(Delivered(destination, "dead_lettered", result))
    return outcomes


def _replace_with(record: dict[str, object]) -> Callable[[object], dict[str, object]]:
    return lambda _previous: record


def _dead_letter(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    reason: str,
    detail: str,
    message_id: str | None,
    destination: str,
) -> None:
    message = dead_letter_message(runtime, data, attributes, reason, detail, message_id)
    attrs = dict(message.attributes)
    attrs.update(failed_stage="notify", destination=destination)
    runtime.publisher.publish_and_wait([type(message)(message.topic, message.data, attrs)])
    log.warning(
        "notification dead-lettered",
        reason=reason,
        destination=destination,
        detail=detail[:300],
        request_id=attributes.get("request_id"),
    )
