"""``GET|POST /adobe/v1/flow-run-notifications``: Adobe I/O Events webhook (seed 002).

Registration handshake (developer.adobe.com/events/docs/guides, "The challenge
request"): Adobe sends ``GET ?challenge=<value>`` and the webhook must answer 200 with
the value, as ``application/json`` ``{"challenge": "<value>"}``, within the delivery
timeout (10 s, connection set-up included; common/retry-doc). Deliveries are POSTs of
one event or a JSON array (batch); Adobe retries on 429 and 5xx (but 505) for 24 h and
treats any 2xx as delivered, so we answer 200 once the events are durably in Pub/Sub.
An event for an org no tenant owns is still accepted (its signature is valid) and is
dead-lettered as unroutable by the normaliser: a 4xx would make Adobe mark the whole
registration Unstable and then Disabled, stopping every tenant's events. An event
addressed to another client id (or to none, unless allowed) is refused with 403: Adobe
never sends those to our registration, so only a replayed or forged delivery gets it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Request

from alertbridge.bodies import check_declared_size, media_type, parse_json, read_body, unsupported
from alertbridge.errors import FieldProblem, bad_request
from alertbridge.http import Pending, Reply
from alertbridge.runtime import Runtime
from alertbridge.sources.adobe import adapter as adobe
from alertbridge.sources.adobe.signature import (
    PublicKeyCache,
    check_recipient,
    verify,
)
from alertbridge.sources.common import (
    accept_events,
)

PATH = "/adobe/v1/flow-run-notifications"
MAX_CHALLENGE = 256
MAX_EVENTS = 100
RETRY_COUNT = re.compile(r"[0-9]{1,6}")


def key_cache(runtime: Runtime) -> PublicKeyCache:
    cache = getattr(runtime, "_adobe_keys", None)
    if cache is None or cache.host != runtime.settings.adobe_key_host:
        cache = PublicKeyCache(runtime.settings.adobe_key_host, runtime.settings.adobe_key_ttl_s)
        runtime._adobe_keys = cache  # type: ignore[attr-defined]
    return cache


def challenge(request: Request) -> Reply:
    value = request.args.get("challenge", "")
    if not value or len(value) > MAX_CHALLENGE:
        raise bad_request(
            "GET needs a challenge query parameter (at most 256 characters)",
            [FieldProblem("challenge", "required, <= 256 chars", "missing or too long")],
        )
    return Reply(200, {"challenge": value})


def retry_count(request: Request) -> str:
    """``x-adobe-retry-count`` is outside the signature and copied into an attribute: only a
    small decimal count is taken (Adobe retries for 24 h; 6,000 digits were accepted)."""
    value = request.headers.get("x-adobe-retry-count", "0")
    if not RETRY_COUNT.fullmatch(value):
        raise bad_request(
            "x-adobe-retry-count must be a decimal integer of at most 6 digits",
            [FieldProblem("x-adobe-retry-count", "integer 0-999999", "not a small integer")],
        )
    return value


def split_events(payload: Any) -> list[Any]:
    """Each event of a delivery, as the unit stored on the ingest topic."""
    items = payload if isinstance(payload, list) else [payload]
    events: list[Any] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("messages"), list):
            events.extend(item["messages"])
        else:
            events.append(item)
    return events


def handle(runtime: Runtime, request: Request, request_id: str) -> Reply | Pending:
    if request.method == "GET":
        return challenge(request)
    check_declared_size(request, runtime.settings.max_body_bytes)
    body = read_body(request, runtime.settings.max_body_bytes)
    verify(
        {key.lower(): value for key, value in request.headers.items()},
        body,
        key_cache(runtime),
        runtime.settings.adobe_client_secret,
    )
    if media_type(request.content_type) not in (
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "",
    ):
        raise unsupported(request.content_type, ["application/json"])
    payload = parse_json(body)
    if isinstance(payload, dict) and set(payload) == {"challenge"}:
        return Reply(200, {"challenge": str(payload["challenge"])[:MAX_CHALLENGE]})
    events = split_events(payload)
    if not events or len(events) > MAX_EVENTS:
        raise bad_request(
            f"a delivery carries 1 to {MAX_EVENTS} events",
            [FieldProblem("body", f"1-{MAX_EVENTS} events", "no or too many events")],
        )
    settings = runtime.settings
    check_recipient(payload, settings.adobe_client_id, settings.adobe_allow_missing_recipient)
    retries = retry_count(request)
    return accept_events(
        runtime, adobe.SOURCE, events, request_id, 200, extra={"adobe_retry_count": retries}
    )
