"""Adobe Experience Platform flow-run notifications (seed 002), one event per message.

The ingress stores each event of a delivery as its own ingest message, in one of the
seed's two shapes: the success envelope ``{"event_id", "event": {...}}`` or one
failure message ``{..., "_eventNotificationMeta": {...}, "value": {...}}`` (also
accepted wrapped as ``{"messages": [message]}``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alertbridge.adapters import AdapterError, UnroutableError
from alertbridge.alert import (
    Alert,
    AlertError,
    Link,
    Metrics,
    Resource,
    Severity,
    Status,
    alert_id,
    truncate,
)
from alertbridge.envelope import IngestEnvelope
from alertbridge.tenants import Tenants

SOURCE = "adobe.flow_run"

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
        code = ((run.get("header") or {}).get("_adobeio") or {}).get("eventCode")
        return run, str(code or "sources_flow_run_success")
    if isinstance(payload.get("value"), dict):
        meta = payload.get("_eventNotificationMeta") or {}
        return payload["value"], str(meta.get("type") or "sources_flow_run_failed")
    raise AdapterError("not an Adobe flow-run event: neither 'event' nor 'value' is present")


def _count(section: Any, key: str) -> int | None:
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _epoch(value: Any) -> datetime | None:
    """Adobe mixes seconds (1590512053) and milliseconds (1597434147190)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    seconds = value / 1000 if value > 10**11 else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _errors(status_summary: Any, scope: str | None) -> list[AlertError]:
    out: list[AlertError] = []
    if not isinstance(status_summary, dict):
        return out
    groups = [status_summary.get("errors")]
    extensions = status_summary.get("extensions")
    if isinstance(extensions, dict):
        groups.append(extensions.get("errors"))
    for group in groups:
        for error in group if isinstance(group, list) else []:
            if isinstance(error, dict) and (error.get("code") or error.get("message")):
                out.append(
                    AlertError(
                        code=str(error.get("code") or "unknown"),
                        message=str(error.get("message") or ""),
                        scope=scope,
                    )
                )
    return out


def _manifests(run: dict[str, Any]) -> list[Link]:
    links: list[Link] = []
    for activity in run.get("activities") or []:
        if not isinstance(activity, dict):
            continue
        extensions = (activity.get("fileSummary") or {}).get("extensions") or {}
        url = (
            (extensions.get("manifest") or {}).get("fileInfo")
            if isinstance(extensions, dict)
            else None
        )
        if isinstance(url, str) and url.startswith("https://"):
            links.append(Link(href=url, text=f"file manifest ({activity.get('id')})"))
    return links


def dedup_key(tenant_id: str, sandbox: str, flow_id: str) -> str:
    return f"{SOURCE}:{tenant_id}:{sandbox}:{flow_id}"


def parse(envelope: IngestEnvelope, tenants: Tenants) -> list[Alert]:
    try:
        payload = json.loads(envelope.data)
    except ValueError as exc:
        raise AdapterError(f"Adobe event is not JSON: {exc}") from None
    run, event_code = unwrap(payload)
    flow_id, run_id = run.get("flowId"), run.get("id")
    org = run.get("imsOrgId") or ((run.get("header") or {}).get("_adobeio") or {}).get("imsOrgId")
    if not isinstance(flow_id, str) or not flow_id or not isinstance(run_id, str) or not run_id:
        raise AdapterError("flow run without flowId or id")
    if not isinstance(org, str) or not org:
        raise AdapterError("flow run without imsOrgId")
    sandbox = str(run.get("sandboxName") or run.get("sandboxId") or "-")
    tenant = tenants.by_adobe_org(org, sandbox)
    if tenant is None:
        raise UnroutableError(f"no tenant owns IMS org {org!r} (sandbox {sandbox!r})")

    metrics: dict[str, Any] = run["metrics"] if isinstance(run.get("metrics"), dict) else {}
    run_summary = metrics.get("statusSummary") or {}
    errors = _errors(run_summary, None)
    for activity in run.get("activities") or []:
        if isinstance(activity, dict):
            errors.extend(_errors(activity.get("statusSummary"), str(activity.get("id"))))
    failed = "fail" in event_code.lower() or str(run_summary.get("status", "")).lower() == "failed"
    records = metrics.get("recordSummary") or {}
    written = _count(records, "outputRecordCount")
    status: Status
    severity: Severity
    if failed:
        status, severity = "firing", ("critical" if not written else "error")
    elif errors:
        status, severity = "firing", "warning"
    else:
        status, severity = "resolved", "info"

    durations = metrics.get("durationSummary") or {}
    started = _epoch(durations.get("startedAtUTC")) or _epoch(run.get("createdAt"))
    completed = _epoch(durations.get("completedAtUTC"))
    occurred = started or _epoch(run.get("updatedAt")) or envelope.received_at
    duration_ms = (
        int((completed - started).total_seconds() * 1000) if started and completed else None
    )
    sizes, files = metrics.get("sizeSummary") or {}, metrics.get("fileSummary") or {}
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
                id=flow_id,
                name=run.get("providerRefId"),
                parent=f"sandbox {sandbox}",
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
            links=_manifests(run),
            labels={
                "imsOrgId": org,
                "sandboxName": sandbox,
                "sandboxId": str(run.get("sandboxId") or ""),
                "flowId": flow_id,
                "runId": run_id,
                "eventCode": event_code,
                **(
                    {"providerRefId": str(run["providerRefId"])} if run.get("providerRefId") else {}
                ),
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
