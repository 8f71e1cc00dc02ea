"""Adobe Experience Platform flow-run notifications (seed 002), one event per message.

The ingress stores each event of a delivery as its own ingest message, in one of the
seed's two shapes: the success envelope ``{"event_id", "event": {...}}`` or one
failure message ``{..., "_eventNotificationMeta": {...}, "value": {...}}`` (also
accepted wrapped as ``{"messages": [message]}``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alertbridge.alert import (
    Alert,
    AlertError,
    Link,
    Metrics,
    Resource,
    Severity,
    Status,
    alert_id,
    bounded,
    compose_key,
    truncate,
)
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.sources import AdapterError, UnroutableError
from alertbridge.sources.adobe import SPEC
from alertbridge.sources.adobe.config import tenant_for_org
from alertbridge.sources.fields import get_list, get_object, get_text, load_json
from alertbridge.tenants import Tenants

SOURCE = SPEC.name

# Seed 002, "Understanding error messages".
ERROR_CODES = {
    "CONNECTOR-1001-500": "error while data was being copied from the source",
    "CONNECTOR-2001-500": "error while the copied data was being processed to Platform "
    "(parsing, validation or transformation)",
}


def unwrap(payload: Any) -> tuple[dict[str, Any], str]:
    """The flow run and its event code, from either shape."""
    if isinstance(payload, dict) and isinstance(payload.get("messages"), list):
        if len(payload["messages"]) != 1:
            raise AdapterError("expected exactly one message per ingest message")
        payload = payload["messages"][0]
    if not isinstance(payload, dict):
        raise AdapterError("Adobe event is not a JSON object")
    if isinstance(payload.get("event"), dict):
        run = payload["event"]
        code = get_text(_adobeio(run), "eventCode", "event.header._adobeio.")
        return run, code or "sources_flow_run_success"
    if isinstance(payload.get("value"), dict):
        meta = get_object(payload, "_eventNotificationMeta", "")
        code = get_text(meta, "type", "_eventNotificationMeta.")
        return payload["value"], code or "sources_flow_run_failed"
    raise AdapterError("not an Adobe flow-run event: neither 'event' nor 'value' is present")


def _adobeio(run: dict[str, Any]) -> dict[str, Any]:
    return get_object(get_object(run, "header", "event."), "_adobeio", "event.header.")


def _count(section: Any, key: str) -> int | None:
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _epoch(value: Any) -> datetime | None:
    """Adobe mixes seconds (1590512053) and milliseconds (1597434147190)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    try:
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _errors(status_summary: dict[str, Any], scope: str | None, where: str) -> list[AlertError]:
    out: list[AlertError] = []
    extensions = get_object(status_summary, "extensions", where)
    groups = [
        (get_list(status_summary, "errors", where), f"{where}errors"),
        (get_list(extensions, "errors", f"{where}extensions."), f"{where}extensions.errors"),
    ]
    for group, path in groups:
        for index, error in enumerate(group):
            if not isinstance(error, dict):
                raise AdapterError(f"{path}[{index}] must be an object, got {type(error).__name__}")
            if error.get("code") or error.get("message"):
                out.append(
                    AlertError(
                        code=str(error.get("code") or "unknown"),
                        message=str(error.get("message") or ""),
                        scope=scope,
                    )
                )
    return out


def _activities(run: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Each activity with its path for error messages; every one must be an object."""
    out = []
    for index, activity in enumerate(get_list(run, "activities", "")):
        if not isinstance(activity, dict):
            raise AdapterError(f"activities[{index}] must be an object")
        out.append((activity, f"activities[{index}]."))
    return out


def _manifests(activities: list[tuple[dict[str, Any], str]]) -> list[Link]:
    links: list[Link] = []
    for activity, where in activities:
        files = get_object(activity, "fileSummary", where)
        extensions = get_object(files, "extensions", f"{where}fileSummary.")
        manifest = get_object(extensions, "manifest", f"{where}fileSummary.extensions.")
        url = manifest.get("fileInfo")
        if isinstance(url, str) and url.startswith("https://"):
            name = bounded(str(activity.get("id")), 100)
            links.append(Link(href=url, text=f"file manifest ({name})"))
    return links


def dedup_key(tenant_id: str, sandbox: str, flow_id: str) -> str:
    return compose_key([SOURCE, tenant_id, sandbox, flow_id])


def parse(envelope: IngestEnvelope, tenants: Tenants) -> list[Alert]:
    run, event_code = unwrap(load_json(envelope.data, "Adobe event"))
    flow_id, run_id = get_text(run, "flowId", ""), get_text(run, "id", "")
    org = get_text(run, "imsOrgId", "") or get_text(_adobeio(run), "imsOrgId", "header._adobeio.")
    if not flow_id or not run_id:
        raise AdapterError("flow run without flowId or id")
    if not org:
        raise AdapterError("flow run without imsOrgId")
    sandbox_id = get_text(run, "sandboxId", "")
    sandbox = get_text(run, "sandboxName", "") or sandbox_id or "-"
    provider_ref = get_text(run, "providerRefId", "")
    tenant = tenant_for_org(tenants, org, sandbox)
    if tenant is None:
        raise UnroutableError(
            f"no tenant owns IMS org {bounded(org, 100)!r} (sandbox {bounded(sandbox, 100)!r})"
        )

    metrics = get_object(run, "metrics", "")
    run_summary = get_object(metrics, "statusSummary", "metrics.")
    errors = _errors(run_summary, None, "metrics.statusSummary.")
    activities = _activities(run)
    for activity, where in activities:
        summary_of = get_object(activity, "statusSummary", where)
        scope = bounded(str(activity.get("id")), 100)
        errors.extend(_errors(summary_of, scope, f"{where}statusSummary."))
    run_status = get_text(run_summary, "status", "metrics.statusSummary.") or ""
    failed = "fail" in event_code.lower() or run_status.lower() == "failed"
    records = get_object(metrics, "recordSummary", "metrics.")
    written = _count(records, "outputRecordCount")
    status: Status
    severity: Severity
    if failed:
        status, severity = "firing", ("critical" if not written else "error")
    elif errors:
        status, severity = "firing", "warning"
    else:
        status, severity = "resolved", "info"

    durations = get_object(metrics, "durationSummary", "metrics.")
    started = _epoch(durations.get("startedAtUTC")) or _epoch(run.get("createdAt"))
    completed = _epoch(durations.get("completedAtUTC"))
    occurred = started or _epoch(run.get("updatedAt")) or envelope.received_at
    duration_ms = (
        int((completed - started).total_seconds() * 1000) if started and completed else None
    )
    sizes = get_object(metrics, "sizeSummary", "metrics.")
    files = get_object(metrics, "fileSummary", "metrics.")
    summary = _summary(flow_id, run_id, sandbox, status, failed, errors, records, written)
    return [
        Alert(
            id=alert_id(SOURCE, run_id, status),
            dedup_key=dedup_key(tenant.id, sandbox, flow_id),
            tenant_id=tenant.id,
            source=SOURCE,
            status=status,
            severity=severity,
            summary=truncate(summary),
            occurred_at=occurred,
            received_at=envelope.received_at,
            resource=Resource(
                kind="adobe_flow",
                id=bounded(flow_id),
                name=bounded(provider_ref) if provider_ref else None,
                parent=bounded(f"sandbox {sandbox}"),
            ),
            errors=errors,
            metrics=Metrics(
                records_read=_count(records, "inputRecordCount"),
                records_written=written,
                bytes_read=_count(sizes, "inputBytes"),
                bytes_written=_count(sizes, "outputBytes"),
                files_read=_count(files, "inputFileCount"),
                files_written=_count(files, "outputFileCount"),
                duration_ms=duration_ms,
            ),
            links=_manifests(activities),
            labels={
                "imsOrgId": bounded(org),
                "sandboxName": bounded(sandbox),
                "sandboxId": bounded(sandbox_id or ""),
                "flowId": bounded(flow_id),
                "runId": bounded(run_id),
                "eventCode": bounded(event_code),
                **({"providerRefId": bounded(provider_ref)} if provider_ref else {}),
            },
            request_id=envelope.request_id,
        )
    ]


def _or_unknown(value: int | None) -> str:
    return "unknown" if value is None else str(value)


def _summary(
    flow_id: str,
    run_id: str,
    sandbox: str,
    status: str,
    failed: bool,
    errors: list[AlertError],
    records: dict[str, Any],
    written: int | None,
) -> str:
    where = f"Adobe flow {flow_id} run {run_id} (sandbox {sandbox})"
    if status == "resolved":
        if written is None:
            return f"{where} succeeded"
        return f"{where} succeeded: {written} records written"
    described: list[str] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        if (error.code, error.message) in seen or len(described) >= 4:
            continue
        seen.add((error.code, error.message))
        meaning = ERROR_CODES.get(error.code)
        text = f"{error.code}" + (f": {meaning}" if meaning else "")
        text += f": {error.message}" if error.message and not meaning else ""
        if error.scope:
            text = f"{error.scope} {text}"
        described.append(text)
    if not failed:
        return f"{where} succeeded with errors below the flow's threshold: " + "; ".join(described)
    read = _count(records, "inputRecordCount")
    counts = (
        "record counts not reported"
        if read is None and written is None
        else f"records read {_or_unknown(read)}, written {_or_unknown(written)}"
    )
    return f"{where} failed: " + ("; ".join(described) or "no error detail") + f"; {counts}"
