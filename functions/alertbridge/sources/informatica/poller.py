"""Scheduled poller: reads recent events from the CIH Events REST API and feeds them to
the ingest topic, for tenants that configure ``informatica.poll``.

Cloud Scheduler publishes to a topic every few minutes; the ``poll_cih`` function reads
``POST <base_url>/dih-console/api/v1/events`` with a UTC ``fromDate``/``toDate`` window
(overlapping the previous one) and pages with ``firstResult``/``maxResults``. The API allows
few calls per minute and answers 429 with ``Retry-After``: the poller then stops for this
round and remembers where it was. What it already published is remembered per tenant
(event id + a digest of every status in its tree, bounded) in the state store, so an event
is published once per state of its tree.

Polled events route only to the polling tenant, as posted ones do: an event whose
application the tenants file gives to another tenant is refused (the HTTP endpoint answers
403 for it), logged and remembered, never published. Each tenant's poll is independent: a
CIH answer that fails (5xx, not JSON, no connection, any exception) is that tenant's error
in the round's results and in the ``cih_polls`` counter; the round goes on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from alertbridge.logs import get_logger
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
from alertbridge.sources.informatica import adapter as informatica
from alertbridge.sources.informatica.config import settings_of, tenant_for_application
from alertbridge.tenants import Tenant

log = get_logger(__name__)
COLLECTION = "cih-poll"
EVENTS_PATH = "/dih-console/api/v1/events"
MAX_SEEN = 5000
TIMEOUT_S = 10.0


@dataclass
class PollResult:
    tenant_id: str
    fetched: int = 0
    published: int = 0
    retry_after: int | None = None
    error: str | None = None
    pages: int = 0
    published_ids: list[str] = field(default_factory=list)
    refused_ids: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``ok``, ``throttled`` or ``failed``: the ``cih_polls`` counter's label."""
        if self.error is not None:
            return "failed"
        return "ok" if self.retry_after is None else "throttled"


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _events(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        payload = payload.get("events", payload.get("eventDetails", [payload]))
    return [e for e in payload if isinstance(e, dict)] if isinstance(payload, list) else []


def poll_tenant(
    runtime: Runtime,
    tenant: Tenant,
    now: datetime | None = None,
    session: requests.Session | None = None,
) -> PollResult:
    config = settings_of(tenant).poll
    result = PollResult(tenant.id)
    if config is None:
        return result
    token = os.environ.get(config.session_env)
    if not token:
        result.error = f"env var {config.session_env} is not set"
        log.warning("CIH poll skipped", tenant=tenant.id, reason=result.error)
        return result
    now = now or datetime.now(UTC)
    state = runtime.state.get(COLLECTION, tenant.id) or {}
    since = (
        datetime.fromisoformat(state["since"]) if state.get("since") else now - timedelta(hours=1)
    )
    window_from = since - timedelta(seconds=config.overlap_seconds)
    seen: list[str] = list(state.get("seen", []))
    seen_set = set(seen)
    http = session or requests.Session()
    first = 0
    while True:
        try:
            response = http.post(
                config.base_url.rstrip("/") + EVENTS_PATH,
                json={
                    "fromDate": _iso(window_from),
                    "toDate": _iso(now),
                    "firstResult": first,
                    "maxResults": config.page_size,
                    "eventType": "ALL",
                },
                headers={"IDS-SESSION-ID": token, "Accept": "application/json"},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as exc:  # what was published so far is remembered
            result.error = f"{type(exc).__name__}: {str(exc)[:200]}"
            break
        result.pages += 1
        if response.status_code == 429:
            try:
                result.retry_after = max(1, int(float(response.headers.get("Retry-After", "60"))))
            except ValueError:
                result.retry_after = 60
            break
        if response.status_code != 200:
            result.error = f"CIH answered {response.status_code}"
            break
        try:
            page = _events(response.json())
        except ValueError as exc:
            result.error = f"CIH answered invalid JSON: {str(exc)[:200]}"
            break
        result.fetched += len(page)
        fresh = [e for e in page if state_key(e) not in seen_set]
        for foreign in [e for e in fresh if not _owned_by(runtime, tenant, e)]:
            key = state_key(foreign)
            seen.append(key)  # refused once, not again every round
            seen_set.add(key)
            result.refused_ids.append(key)
            runtime.metrics.count("rejected", informatica.SOURCE)
            log.warning(
                "CIH poll refused an event of an application another tenant owns",
                tenant=tenant.id,
                application=str(foreign.get("applicationName"))[:200],
                event_id=str(foreign.get("eventId"))[:64],
            )
        fresh = [e for e in fresh if state_key(e) not in seen_set]
        if fresh:
            received = datetime.now(UTC)
            runtime.publisher.publish_and_wait(
                [
                    OutgoingMessage(runtime.settings.ingest_topic, env.data, env.attributes())
                    for env in (
                        IngestEnvelope(
                            data=_json(event),
                            source=informatica.SOURCE,
                            request_id=f"poll-{tenant.id}-{state_key(event).replace(':', '-')}",
                            received_at=received,
                            tenant_id=tenant.id,
                            account="cih-poller",
                            extra={"original_content_type": "application/json"},
                        )
                        for event in fresh
                    )
                ]
            )
            for event in fresh:
                key = state_key(event)
                seen.append(key)
                seen_set.add(key)
                result.published_ids.append(key)
            result.published += len(fresh)
        if len(page) < config.page_size:
            break
        first += config.page_size
    finished = result.retry_after is None and result.error is None
    record = {
        "since": (now if finished else since).isoformat(),
        "seen": seen[-MAX_SEEN:],
        "last_poll": time.time(),
    }
    runtime.state.update(COLLECTION, tenant.id, lambda _previous: record)
    log.info(
        "CIH poll",
        tenant=tenant.id,
        fetched=result.fetched,
        published=result.published,
        retry_after=result.retry_after,
        error=result.error,
    )
    return result


def _owned_by(runtime: Runtime, tenant: Tenant, event: dict[str, Any]) -> bool:
    """The HTTP endpoint's rule: an application the tenants file gives to another tenant is
    not this tenant's to send (the adapter would route it there)."""
    app = event.get("applicationName")
    owner = tenant_for_application(runtime.tenants, app) if isinstance(app, str) else None
    return owner is None or owner.id == tenant.id


def state_key(event: dict[str, Any]) -> str:
    """``eventId:<digest of every status in the tree>``: a parent stays "Complete" while its
    subscriptions move from Processing to Error, and that change must be published."""
    import hashlib

    states = [
        (e.get("eventId"), e.get("eventStatus"), e.get("descendantState"))
        for e, _ in informatica.walk(event)
    ]
    digest = hashlib.sha1(repr(states).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{event.get('eventId')}:{digest}"


def _json(event: dict[str, Any]) -> bytes:
    import json

    return json.dumps(event, separators=(",", ":")).encode()


def poll_all(runtime: Runtime, now: datetime | None = None) -> list[PollResult]:
    """One round: every polling tenant, each on its own; one tenant's failure (whatever it
    raises) is its result's ``error`` and never stops the tenants after it."""
    results: list[PollResult] = []
    for tenant in runtime.tenants:
        if not settings_of(tenant).poll:
            continue
        try:
            result = poll_tenant(runtime, tenant, now)
        except Exception as exc:  # isolation: the round goes on for the other tenants
            result = PollResult(tenant.id, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            log.error("CIH poll failed", tenant=tenant.id, error=result.error)
        runtime.metrics.count("cih_polls", tenant.id, result.outcome)
        results.append(result)
    failed = [r.tenant_id for r in results if r.error is not None]
    log.info("CIH poll round", tenants=len(results), failed=failed)
    return results
