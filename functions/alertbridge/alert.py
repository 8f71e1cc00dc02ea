"""The one alert every source is normalised into.

This pydantic model is the source of truth; ``schemas/alert.v1.json`` is generated
from it (``alertbridge schema``) and a test fails when the two drift.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from alertbridge.sources import specs
from alertbridge.vocabulary import SEVERITY_ORDER, Severity, Status

__all__ = ["SEVERITY_ORDER", "Alert", "Severity", "Status"]

# Namespace for deterministic alert ids:
# uuid5(ALERT_NAMESPACE, "<source>|<event identity>|<status>").
ALERT_NAMESPACE = uuid.UUID("6f1c7d2e-6a55-4d3b-9a0e-5b8f0c2d9e11")

SUMMARY_MAX = 1024  # PagerDuty Events v2 caps payload.summary at 1024 characters.
DEDUP_KEY_MAX = 255  # and dedup_key at 255
ID_MAX = 255  # resource ids and names (and, bounded by the adapters, label values)
KEY_PART_MAX = 64  # one part of an over-long dedup key keeps this much (prefix + digest)
DIGEST_CHARS = 16  # 64 bits of SHA-256: distinct texts stay distinct


# Every registered source's name, and alertbridge's own (e.g. auto-resolve) under "alertbridge.".
_SOURCE_NAMES = [spec.name for spec in specs()]


def _known_source(value: str) -> str:
    if value not in _SOURCE_NAMES and not value.startswith("alertbridge."):
        raise ValueError(f"unknown source {value!r}; registered: {', '.join(_SOURCE_NAMES)}")
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def alert_id(source: str, *identity: object) -> str:
    """Deterministic id: the same source event and status always give the same id."""
    name = "|".join([source, *(str(part) for part in identity)])
    return str(uuid.uuid5(ALERT_NAMESPACE, name))


def truncate(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(text: str, limit: int = ID_MAX) -> str:
    """``text`` when it fits, else a readable prefix, ``~`` and a digest of the whole text.

    Unlike ``truncate`` (for prose) this is for identities: deterministic, so redelivery
    gives the same value, and two long texts that share a prefix stay distinct."""
    if len(text) <= limit:
        return text
    whole = text.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(whole).hexdigest()[:DIGEST_CHARS]
    return text[: limit - DIGEST_CHARS - 1] + "~" + digest


def compose_key(parts: Sequence[object]) -> str:
    """``parts`` joined by ``:`` as a dedup key of at most ``DEDUP_KEY_MAX`` characters.

    A key that fits is left exactly as it always was (open incidents keep resolving);
    only when it does not fit is each long part bounded, then the whole."""
    texts = [str(part) for part in parts]
    key = ":".join(texts)
    if len(key) <= DEDUP_KEY_MAX:
        return key
    return bounded(":".join(bounded(t, KEY_PART_MAX) for t in texts), DEDUP_KEY_MAX)


class Resource(BaseModel):
    """What failed: a sub-task step, an Adobe flow, a CIH publication/subscription."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="e.g. subtask_step, adobe_flow, cih_subscription")
    id: str = Field(max_length=ID_MAX)
    name: str | None = Field(default=None, max_length=ID_MAX)
    parent: str | None = Field(
        default=None, max_length=ID_MAX, description="the containing job, flow or event"
    )


class AlertError(BaseModel):
    """One error as the source reported it; source codes are kept verbatim."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str
    scope: str | None = Field(default=None, description="where it was reported, e.g. activity id")


class Metrics(BaseModel):
    """Counts the source gives; a count the source reports as unknown (-1) is left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records_read: int | None = None
    records_read_failed: int | None = None
    records_written: int | None = None
    records_write_failed: int | None = None
    bytes_read: int | None = None
    bytes_written: int | None = None
    files_read: int | None = None
    files_written: int | None = None
    duration_ms: int | None = None


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    href: str
    text: str


class Alert(BaseModel):
    """alertbridge alert, schema version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="alertbridge alert v1")

    schema_version: Literal["1"] = "1"
    id: str = Field(description="deterministic per source event and status")
    dedup_key: str = Field(
        min_length=1, max_length=DEDUP_KEY_MAX, description="stable for the same thing failing"
    )
    tenant_id: str = Field(min_length=1)
    source: Annotated[str, AfterValidator(_known_source)] = Field(
        json_schema_extra={"enum": cast(list[JsonValue], _SOURCE_NAMES)},
        description="the registered source (alertbridge.sources) the alert came from",
    )
    status: Status
    severity: Severity
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    resource: Resource
    errors: list[AlertError] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    links: list[Link] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    request_id: str | None = Field(default=None, description="the ingest request that carried it")

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def json_schema() -> dict[str, object]:
    schema = Alert.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://alertbridge.dev/schemas/alert.v1.json"
    return schema
