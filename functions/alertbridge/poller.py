"""Scheduled poller: reads recent events from the CIH Events REST API and feeds them to
the ingest topic, for tenants that configure ``informatica.poll``.

Cloud Scheduler publishes to a topic every few minutes; the ``poll_cih`` function reads
``POST <base_url>/dih-console/api/v1/events`` with a UTC ``fromDate``/``toDate`` window
(overlapping the previous one) and pages with ``firstResult``/``maxResults``. The API allows
few calls per minute and answers 429 with ``Retry-After``: the poller then stops for this
round and remembers where it was. What it already published is remembered per tenant
(event id + a digest of every status in its tree, bounded) in the state store, so an event
is published once per state of its tree.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from alertbridge.adapters import informatica
from alertbridge.envelope import IngestEnvelope
from alertbridge.logs import get_logger
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
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
    config = tenant.informatica.poll
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
        page = _events(response.json())
        result.fetched += len(page)
        fresh = [e for e in page if state_key(e) not in seen_set]
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
    return [poll_tenant(runtime, t, now) for t in runtime.tenants if t.informatica.poll]
