"""``POST /dbt-cloud/v1/webhooks``: dbt Cloud job webhooks (PROTOCOL.md).

dbt signs each delivery with the webhook's own secret, and the payload says which account
sent it, so the order is: read the body (254 KB cap), decode the JSON, map ``accountId``
to its tenant, check the ``Authorization`` HMAC with that tenant's secret (401 when it
does not match), apply the tenant's rate limit, check the payload with the adapter itself
(400 naming the field; a verified delivery the normaliser would dead-letter is refused
here instead), then publish the raw bytes on the ingest topic and answer 200. dbt times
out after 10 s and retries five times: the publish deadline (5 s) sits inside that, and a
publish Pub/Sub does not confirm answers 503 so dbt retries. ``job.run.started`` is
verified and acknowledged but not published: nothing downstream acts on it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Request

from alertbridge.bodies import media_type, parse_json, read_body, unsupported
from alertbridge.errors import ApiError, FieldProblem, bad_request, unavailable
from alertbridge.http import Pending, Reply
from alertbridge.runtime import Runtime
from alertbridge.sources import AdapterError
from alertbridge.sources.common import (
    charge_tenant,
    envelope,
    published,
)
from alertbridge.sources.dbt_cloud import adapter
from alertbridge.sources.dbt_cloud.config import DbtCloudSettings, settings_of, tenant_for_account
from alertbridge.sources.dbt_cloud.signature import SignatureError, verify

SIGNATURE_RULE = "hex HMAC-SHA256 of the raw body keyed with the webhook's secret token"


def signature_error(description: str, field: str = "Authorization") -> ApiError:
    return ApiError(
        401,
        "invalid_signature",
        description,
        [FieldProblem(field, SIGNATURE_RULE, description)],
        headers={"WWW-Authenticate": 'DbtCloudSignature realm="alertbridge"'},
    )


def _secret(block: DbtCloudSettings) -> bytes:
    name = block.webhook_secret_env or ""
    value = os.environ.get(name, "") if name else ""
    if not value:
        raise unavailable(f"the dbt Cloud webhook secret ({name or 'no env var'}) is not set")
    return value.encode()


def _payload_error(exc: AdapterError) -> ApiError:
    if isinstance(exc, adapter.PayloadError):
        return bad_request(
            f"invalid dbt Cloud webhook: {exc}", [FieldProblem(exc.field, exc.rule, str(exc))]
        )
    return bad_request(
        f"invalid dbt Cloud webhook: {exc}", [FieldProblem("body", "dbt Cloud job event", str(exc))]
    )


def handle(runtime: Runtime, request: Request, request_id: str) -> Reply | Pending:
    body = read_body(request, runtime.settings.max_body_bytes)
    if media_type(request.content_type) not in ("application/json", ""):
        raise unsupported(request.content_type, ["application/json"])
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise bad_request(
            "a dbt Cloud webhook is a JSON object",
            [FieldProblem("body", "JSON object", "the body is not a JSON object")],
        )
    try:
        account = adapter.read_id(payload, "accountId", "accountId")
    except AdapterError as exc:
        raise _payload_error(exc) from None
    tenant = tenant_for_account(runtime.tenants, account)
    if tenant is None:
        raise signature_error(
            f"no tenant owns dbt Cloud account {account}, so its webhook secret is unknown",
            "accountId",
        )
    tenant_id = tenant.id
    try:
        verify(body, request.headers.get("Authorization"), _secret(settings_of(tenant)))
    except SignatureError as exc:
        raise signature_error(str(exc)) from None
    charge_tenant(runtime, tenant)
    received = datetime.now(UTC)
    try:
        adapter.parse(payload, tenant_id, received, request_id)
    except AdapterError as exc:
        raise _payload_error(exc) from None
    if payload.get("eventType") == adapter.STARTED:
        ignored = {"status": "ignored", "request_id": request_id, "reason": "started run"}
        return Reply(200, ignored)
    return published(
        runtime,
        [envelope(adapter.SOURCE, body, request_id, "application/json", tenant_id)],
        lambda ids: Reply(
            200,
            {"status": "accepted", "request_id": request_id, "events": 1, "message_ids": ids},
        ),
    )
