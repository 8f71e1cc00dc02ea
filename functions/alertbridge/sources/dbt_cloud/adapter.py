"""dbt Cloud job webhooks (PROTOCOL.md): one alert per job run that ended, keyed per job.

``job.run.errored`` and a ``job.run.completed`` whose run did not succeed fire an
``error`` alert; a successful ``job.run.completed`` resolves it. Both carry the run's start
as ``occurred_at``, so the normaliser's run order lets only a newer run settle a job.
``job.run.started`` says nothing on-call needs. dbt sends both ``errored`` and
``completed`` for one failed run; they get the same alert id, so the second is a duplicate.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from alertbridge.alert import (
    Alert,
    AlertError,
    Metrics,
    Resource,
    Severity,
    Status,
    alert_id,
    bounded,
    truncate,
)
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.sources import AdapterError, UnroutableError
from alertbridge.sources.dbt_cloud import SPEC
from alertbridge.tenants import Tenants

SOURCE = SPEC.name
STARTED, COMPLETED, ERRORED = "job.run.started", "job.run.completed", "job.run.errored"
EVENT_TYPES = (STARTED, COMPLETED, ERRORED)
SUCCESS_CODE = 10  # "runStatus": "Success", "runStatusCode": 10 in dbt's completed example
# dbt ids are integers; 40 characters keeps the dedup key (4 ids + tenant) under 255, and no
# colon means two different (account, project, environment, job) never share a key.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
ID_RULE = "integer >= 0 or string of 1-40 letters, digits, _ or -"
TEXT_MAX = 256


class PayloadError(AdapterError):
    """What is wrong, as the ingress reports it: the field (dotted path) and the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule


def read_id(container: dict[str, Any], key: str, path: str) -> str:
    """A required id: a non-negative integer or an id-shaped string, as text."""
    value = container.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise PayloadError(path, ID_RULE, "missing or not an id")
    return value


def read_optional_id(container: dict[str, Any], key: str, path: str) -> str | None:
    return None if container.get(key) is None else read_id(container, key, path)


def _text(container: dict[str, Any], key: str) -> str | None:
    """An optional descriptive field; a wrong type is ignored, not trusted."""
    value = container.get(key)
    if not isinstance(value, str) or not value.strip() or value == "None":
        return None  # dbt's examples send the string "None" for an empty runStatusMessage
    return truncate(value.strip(), TEXT_MAX)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        return None
    # dbt's timestamps have nanoseconds; Python parses at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def succeeded(data: dict[str, Any]) -> bool:
    """dbt: filter a completed run "on runStatus or runStatusCode"; the code wins."""
    code = data.get("runStatusCode")
    if code is not None:
        if not isinstance(code, int) or isinstance(code, bool):
            raise PayloadError("data.runStatusCode", "integer", "runStatusCode is not an integer")
        return code == SUCCESS_CODE
    status = data.get("runStatus")
    if not isinstance(status, str) or not status:
        raise PayloadError(
            "data.runStatus",
            "runStatus or runStatusCode present",
            "a completed run without runStatus or runStatusCode",
        )
    return status.strip().lower() == "success"


def dedup_key(tenant_id: str, account: str, project: str, environment: str, job: str) -> str:
    return f"{SOURCE}:{tenant_id}:{account}:{project}:{environment}:{job}"


def parse(
    payload: Any, tenant_id: str, received_at: datetime, request_id: str | None = None
) -> list[Alert]:
    """The alerts one webhook delivery means for ``tenant_id``; [] for a started run."""
    if not isinstance(payload, dict):
        raise PayloadError("body", "JSON object", "the webhook body is not a JSON object")
    event_type = payload.get("eventType")
    if event_type not in EVENT_TYPES:
        raise PayloadError(
            "eventType", " | ".join(EVENT_TYPES), f"unknown eventType {str(event_type)[:64]!r}"
        )
    account = read_id(payload, "accountId", "accountId")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data", "JSON object", "the run's data is missing or not an object")
    job = read_id(data, "jobId", "data.jobId")
    run = read_id(data, "runId", "data.runId")
    environment = read_id(data, "environmentId", "data.environmentId")
    project = read_optional_id(data, "projectId", "data.projectId") or "-"
    if event_type == STARTED:
        return []
    ok = event_type == COMPLETED and succeeded(data)
    status: Status = "resolved" if ok else "firing"
    severity: Severity = "info" if ok else "error"

    started = _time(data.get("runStartedAt"))
    ended = _time(data.get("runFinishedAt")) or _time(data.get("runErroredAt"))
    occurred = started or _time(payload.get("timestamp")) or received_at
    duration = int((ended - started).total_seconds() * 1000) if started and ended else None
    job_name, message = _text(data, "jobName"), _text(data, "runStatusMessage")
    run_status = _text(data, "runStatus")
    where = _where(data, account, project, environment)
    what = f"dbt Cloud job {job_name!r} (job {job})" if job_name else f"dbt Cloud job {job}"
    if ok:
        summary = f"{what} run {run} succeeded in {where}"
    else:
        reason = _text(data, "runReason")
        summary = (
            f"{what} run {run} {(run_status or 'failed').lower()} in {where}: "
            + (message or "no status message from dbt Cloud")
            + (f"; run reason: {reason}" if reason else "")
        )
    labels = {
        "accountId": account,
        "projectId": project,
        "environmentId": environment,
        "jobId": job,
        "runId": run,
        "eventType": str(event_type),
    }
    for key in ("eventId", "webhooksID", "timestamp"):
        if (text := _text(payload, key)) is not None:
            labels[key] = text
    for key in ("runStatus", "jobName", "projectName", "environmentName", "dbtVersion"):
        if (text := _text(data, key)) is not None:
            labels[key] = text
    code = data.get("runStatusCode")
    if isinstance(code, int) and not isinstance(code, bool):
        labels["runStatusCode"] = str(code)
    try:
        return [
            Alert(
                id=alert_id(SOURCE, account, run, status),
                dedup_key=dedup_key(tenant_id, account, project, environment, job),
                tenant_id=tenant_id,
                source=SOURCE,
                status=status,
                severity=severity,
                summary=truncate(summary),
                occurred_at=occurred,
                received_at=received_at,
                resource=Resource(
                    kind="dbt_cloud_job",
                    id=bounded(job),
                    name=bounded(job_name) if job_name else None,
                    parent=bounded(where),
                ),
                errors=[]
                if ok
                else [
                    AlertError(
                        code=run_status or str(code if code is not None else "failed"),
                        message=message or "run did not succeed",
                        scope=f"run {run}",
                    )
                ],
                metrics=Metrics(duration_ms=duration if duration and duration >= 0 else None),
                labels=labels,
                request_id=request_id,
            )
        ]
    except ValidationError as exc:  # a last guard: bad input is an AdapterError, never a crash
        raise AdapterError(
            f"the run does not make a valid alert: {exc.error_count()} errors"
        ) from None


def _where(data: dict[str, Any], account: str, project: str, environment: str) -> str:
    env_name, project_name = _text(data, "environmentName"), _text(data, "projectName")
    return (
        f"environment {env_name or environment} of project {project_name or project} "
        f"(account {account})"
    )


def parse_envelope(envelope: IngestEnvelope, tenants: Tenants) -> list[Alert]:
    """The normaliser's entry point: the ingress already mapped the account to a tenant."""
    if not envelope.tenant_id:
        raise UnroutableError("dbt Cloud event without the tenant the ingress resolved")
    try:
        payload = json.loads(envelope.data)
    except ValueError as exc:
        raise AdapterError(f"dbt Cloud event is not JSON: {exc}") from None
    return parse(payload, envelope.tenant_id, envelope.received_at, envelope.request_id)
