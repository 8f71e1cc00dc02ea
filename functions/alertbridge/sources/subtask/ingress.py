"""``POST /analytics-environment/v1/job-pub-sub-messages`` (seed 000)."""

from __future__ import annotations

from flask import Request

from alertbridge.bodies import (
    check_declared_size,
    looks_like_form,
    media_type,
    parse_object,
    read_body,
)
from alertbridge.http import Pending, Reply
from alertbridge.runtime import Runtime
from alertbridge.sources.common import (
    authorize,
    envelope,
    published,
)
from alertbridge.sources.subtask import adapter as subtask

PATH = "/analytics-environment/v1/job-pub-sub-messages"
FORM = "application/x-www-form-urlencoded"


def handle(runtime: Runtime, request: Request, request_id: str) -> Pending:
    limit = runtime.settings.max_body_bytes
    check_declared_size(request, limit)
    claims, tenant_id = authorize(runtime, request)
    body = read_body(request, limit)
    fields = parse_object(body, request.content_type, allow_form=True)
    subtask.check_request(fields, tenant_id)
    media = media_type(request.content_type)
    stored_type = FORM if media == FORM or looks_like_form(body) else "application/json"
    env = envelope(subtask.SOURCE, body, request_id, stored_type, tenant_id, claims.subject)
    return published(
        runtime,
        [env],
        lambda ids: Reply(
            202, {"status": "accepted", "request_id": request_id, "message_id": ids[0]}
        ),
    )
