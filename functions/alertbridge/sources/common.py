"""What every ingress endpoint shares: bearer auth, tenant limits, durable publish."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Request

from alertbridge.auth.tokens import InvalidToken, TokenClaims
from alertbridge.errors import (
    ApiError,
    FieldProblem,
    bad_request,
    forbidden,
    unauthorized,
    unavailable,
)
from alertbridge.http import Pending, Reply
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.runtime import Runtime

if TYPE_CHECKING:
    from alertbridge.tenants import Tenant


def bearer_claims(runtime: Runtime, request: Request) -> TokenClaims:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(
            "missing bearer token: send Authorization: Bearer <access_token>",
            error="invalid_request" if not header else "invalid_token",
        )
    if runtime.keyring is None:
        raise unavailable("token verification keys are not configured")
    try:
        return runtime.verified_tokens.verify(runtime.keyring, token.strip(), now=runtime.clock())
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None


def tenant_header(request: Request) -> str:
    value = request.headers.get("Tenant-ID", "").strip()
    if not value:
        raise bad_request(
            "the Tenant-ID header is required",
            [FieldProblem("Tenant-ID", "required", "send the target tenant id in Tenant-ID")],
        )
    return value


def authorize(runtime: Runtime, request: Request) -> tuple[TokenClaims, str]:
    """401 for a bad token, 400 without Tenant-ID, 403 if the token is not bound to it."""
    claims = bearer_claims(runtime, request)
    tenant_id = tenant_header(request)
    if tenant_id not in claims.tenants:
        raise forbidden(f"the token is not bound to tenant {tenant_id!r}")
    tenant = runtime.tenants.get(tenant_id)
    if tenant is None:
        raise forbidden(f"tenant {tenant_id!r} is not configured")
    # A token outlives edits of the tenants file by up to 30 min: its account must still
    # exist and still be bound to the tenant, or a removed account keeps posting.
    account = runtime.accounts.account(claims.subject)
    if account is None:
        raise unauthorized("the token's account no longer exists")
    if tenant_id not in account[1]:
        raise forbidden(f"the token's account is no longer bound to tenant {tenant_id!r}")
    charge_tenant(runtime, tenant)
    return claims, tenant_id


def charge_tenant(runtime: Runtime, tenant: Tenant) -> None:
    """One request against the tenant's token bucket; 429 with Retry-After when empty."""
    limit = tenant.rate_limit
    wait = runtime.limits.take(f"tenant:{tenant.id}", limit.requests_per_second, limit.burst)
    if wait is not None:
        raise rate_limited(
            f"tenant {tenant.id} is over its limit of {limit.requests_per_second:g} requests/s",
            wait,
        )


def rate_limited(description: str, retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        description,
        [FieldProblem("Tenant-ID", "rate limit", description)],
        retry_after=retry_after,
    )


def envelope(
    source: str,
    body: bytes,
    request_id: str,
    content_type: str,
    tenant_id: str | None = None,
    account: str | None = None,
    extra: dict[str, str] | None = None,
) -> IngestEnvelope:
    return IngestEnvelope(
        data=body,
        source=source,
        request_id=request_id,
        received_at=datetime.now(UTC),
        content_type=content_type,
        tenant_id=tenant_id,
        account=account,
        extra=extra or {},
    )


def accept_events(
    runtime: Runtime,
    source: str,
    events: Sequence[Any],
    request_id: str,
    status: int,
    tenant_id: str | None = None,
    account: str | None = None,
    extra: dict[str, str] | None = None,
) -> Pending:
    """One ingest message per event of a delivery (canonical JSON), all published before the
    answer; each carries ``<request id>-<index>`` when there are several."""
    envelopes = [
        envelope(
            source,
            json.dumps(event, separators=(",", ":")).encode(),
            request_id if len(events) == 1 else f"{request_id}-{index}",
            "application/json",
            tenant_id,
            account,
            {**(extra or {}), "batch_request_id": request_id},
        )
        for index, event in enumerate(events)
    ]

    def answer(message_ids: list[str]) -> Reply:
        body = {
            "status": "accepted",
            "request_id": request_id,
            "events": len(events),
            "message_ids": message_ids,
        }
        return Reply(status, body)

    return published(runtime, envelopes, answer)


def published(
    runtime: Runtime,
    envelopes: Sequence[IngestEnvelope],
    answer: Callable[[list[str]], Reply],
) -> Pending:
    """Durably publish the raw events to the ingest topic and, for those normalised inline
    (pipeline/inline.py), their alerts to the tenant topics, in one wait: ``answer`` gets the
    raw events' message ids once Pub/Sub confirmed all of them (2xx), 503 with Retry-After
    otherwise. Planned now; the wait is the server's (http.Pending)."""
    from alertbridge.pipeline import inline

    planned = inline.batch(runtime, envelopes)

    def confirmed(ids: list[str]) -> Reply:
        for e in envelopes:
            runtime.metrics.count("published", e.source)
        inline.settle_all(runtime, planned)
        return answer(ids[: len(planned.raw)])

    return Pending(planned.messages, confirmed)
