"""LiveRamp Safe Haven Sub-Task Messaging API messages (seed 000).

``validate`` applies every rule of the seed's body table and is shared by the
ingress (400 on failure) and the adapter (dead-letter on failure), so both agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alertbridge.alert import (
    Alert,
    AlertError,
    Resource,
    Severity,
    alert_id,
    compose_key,
    truncate,
)
from alertbridge.bodies import parse_form, parse_json
from alertbridge.errors import ApiError, FieldProblem
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.sources import AdapterError
from alertbridge.sources.subtask import SPEC
from alertbridge.sources.subtask.config import settings_of
from alertbridge.tenants import Tenants

SOURCE = SPEC.name
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_INT = 2**63 - 1

_INT_RE = re.compile(r"^\+?[0-9]{1,19}$")
_GIT_RE = re.compile(r"^v[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}$")
_JOB_RE = re.compile(r"^(?:job-|scheduled-job-)[!-~]{1,200}$")
_TS_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")
_TENANT_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,62}$")

# field -> (low, high) inclusive bounds, from the seed's "greater than X and less than Y".
INT_RULES: dict[str, tuple[int, int]] = {
    "envId": (1, 9),
    "msgCode": (1, 254),
    "operationId": (1, 19),
    "pipeId": (1, MAX_INT),
    "placeholder1": (1, MAX_INT),
    "placeholder2": (1, MAX_INT),
    "stepCode": (1, 9),
    "stepId": (1, 9),
}
FIELDS = (*INT_RULES, "gitVersion", "jobId", "tenantId", "timestamp")


def _rule(low: int, high: int) -> str:
    return f"integer >= {low}" if high == MAX_INT else f"integer {low}-{high}"


@dataclass(frozen=True)
class SubTaskMessage:
    envId: int
    gitVersion: str
    jobId: str
    msgCode: int
    operationId: int
    pipeId: int
    placeholder1: int
    placeholder2: int
    stepCode: int
    stepId: int
    tenantId: str
    timestamp: datetime


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def validate(body: dict[str, Any]) -> tuple[SubTaskMessage | None, list[FieldProblem]]:
    """Every failing field with its rule, or the typed message."""
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for name, (low, high) in INT_RULES.items():
        rule = _rule(low, high)
        if name not in body:
            problems.append(FieldProblem(name, "required", f"{name} is required ({rule})"))
            continue
        number = _as_int(body[name])
        if number is None:
            problems.append(FieldProblem(name, rule, f"{name} must be an integer"))
        elif not low <= number <= high:
            problems.append(FieldProblem(name, rule, f"{name} must be {rule}, got {number}"))
        else:
            values[name] = number

    def text(name: str, pattern: re.Pattern[str], rule: str, message: str) -> str | None:
        raw = body.get(name)
        if raw is None:
            problems.append(FieldProblem(name, "required", f"{name} is required ({rule})"))
            return None
        if isinstance(raw, int) and not isinstance(raw, bool) and name == "tenantId":
            raw = str(raw)
        if not isinstance(raw, str) or not pattern.match(raw):
            problems.append(FieldProblem(name, rule, message))
            return None
        return raw

    values["gitVersion"] = text(
        "gitVersion", _GIT_RE, "v<int>.<int>.<int>", "gitVersion must look like v1.0.0"
    )
    values["jobId"] = text(
        "jobId",
        _JOB_RE,
        "prefix job- or scheduled-job-",
        "jobId must start with job- or scheduled-job- (printable, no spaces, <= 200 chars after)",
    )
    values["tenantId"] = text(
        "tenantId", _TENANT_RE, "tenant id", "tenantId must be your Safe Haven tenant id"
    )
    stamp = text(
        "timestamp", _TS_RE, "yyyy-MM-dd HH:mm:ss", "timestamp must be yyyy-MM-dd HH:mm:ss"
    )
    if stamp is not None:
        try:
            # _TS_RE fixed the shape; fromisoformat checks it is a real date and time and is
            # ~10x cheaper than strptime (which showed in the normaliser's profile)
            values["timestamp"] = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
        except ValueError:
            problems.append(
                FieldProblem(
                    "timestamp", "yyyy-MM-dd HH:mm:ss", "timestamp is not a real date/time"
                )
            )
    unknown = sorted(set(body) - set(FIELDS))
    problems.extend(
        FieldProblem(
            name or '""', "known field", f"{name!r} is not a field of the Sub-Task Messaging API"
        )
        for name in unknown
    )
    if problems:
        return None, problems
    return SubTaskMessage(**values), []


def check_request(body: dict[str, Any], tenant_header: str) -> SubTaskMessage:
    """Validate for the ingress: every rule, and the body's tenant equals the header's."""
    message, problems = validate(body)
    if message is not None and message.tenantId != tenant_header:
        problems.append(
            FieldProblem(
                "tenantId",
                "equals Tenant-ID header",
                "tenantId in the body must equal the Tenant-ID header",
            )
        )
    if problems or message is None:
        raise ApiError(
            400,
            "invalid_request",
            "invalid sub-task message: " + ", ".join(p.field for p in problems),
            problems,
        )
    return message


def decode(envelope: IngestEnvelope) -> dict[str, Any]:
    media = envelope.content_type
    try:
        if media == "application/x-www-form-urlencoded":
            return dict(parse_form(envelope.data))
        value = parse_json(envelope.data)
    except ApiError as exc:
        raise AdapterError(exc.description) from None
    if not isinstance(value, dict):
        raise AdapterError("sub-task body is not a JSON object")
    return value


def dedup_key(tenant_id: str, m: SubTaskMessage) -> str:
    parts = (f"env{m.envId}", f"pipe{m.pipeId}", f"step{m.stepId}", f"op{m.operationId}")
    return compose_key([SOURCE, tenant_id, *parts, f"msg{m.msgCode}"])


def parse(envelope: IngestEnvelope, tenants: Tenants) -> list[Alert]:
    message, problems = validate(decode(envelope))
    if message is None:
        raise AdapterError("; ".join(f"{p.field}: {p.message}" for p in problems))
    tenant_id = envelope.tenant_id or message.tenantId
    tenant = tenants.get(tenant_id)
    severity: Severity = "error"
    if tenant is not None:
        severity = settings_of(tenant).severity_by_msg_code.get(message.msgCode, "error")
    m = message
    summary = (
        f"Sub-task failed: msgCode {m.msgCode} at pipe {m.pipeId} step {m.stepId} "
        f"(stepCode {m.stepCode}, operation {m.operationId}) of {m.jobId} in env {m.envId}, "
        f"{m.gitVersion}, at {m.timestamp:%Y-%m-%d %H:%M:%S} UTC"
    )
    return [
        Alert(
            id=alert_id(SOURCE, envelope.request_id, "firing"),
            dedup_key=dedup_key(tenant_id, m),
            tenant_id=tenant_id,
            source=SOURCE,
            status="firing",
            severity=severity,
            summary=truncate(summary),
            occurred_at=m.timestamp,
            received_at=envelope.received_at,
            resource=Resource(
                kind="subtask_step",
                id=f"pipe/{m.pipeId}/step/{m.stepId}",
                name=f"pipe {m.pipeId} step {m.stepId} operation {m.operationId}",
                parent=m.jobId,
            ),
            errors=[
                AlertError(
                    code=str(m.msgCode),
                    message=f"sub-task msgCode {m.msgCode} (stepCode {m.stepCode})",
                    scope=f"step {m.stepId}",
                )
            ],
            labels={
                "envId": str(m.envId),
                "jobId": m.jobId,
                "gitVersion": m.gitVersion,
                "pipeId": str(m.pipeId),
                "stepId": str(m.stepId),
                "stepCode": str(m.stepCode),
                "operationId": str(m.operationId),
                "msgCode": str(m.msgCode),
                "placeholder1": str(m.placeholder1),
                "placeholder2": str(m.placeholder2),
            },
            request_id=envelope.request_id,
        )
    ]
