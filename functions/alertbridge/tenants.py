"""The tenants file: one source of truth for routing, auth and topic creation.

The same YAML drives the runtime (this module), the local stack and Terraform
(``yamldecode`` of the same file). ``schemas/tenants.schema.json`` is generated
from these models.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from alertbridge.vocabulary import Severity, Source

TENANT_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,62}$"
# Pub/Sub topic names: 3-255 chars, start with a letter, no "goog" prefix.
TOPIC_PATTERN = r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$"
HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class TenantsFileError(ValueError):
    """The tenants file is invalid; the message names the offending key."""


class ServiceAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@+-]+$")
    password_hash: str = Field(
        pattern=HASH_PATTERN,
        description="output of `alertbridge hash-secret`; never the plain secret",
        repr=False,
    )


class SubtaskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity_by_msg_code: dict[int, Severity] = Field(
        default_factory=dict, description="msgCode → severity; other codes are `error`"
    )

    @field_validator("severity_by_msg_code")
    @classmethod
    def _codes_in_range(cls, value: dict[int, Severity]) -> dict[int, Severity]:
        bad = [code for code in value if not 1 <= code <= 254]
        if bad:
            raise ValueError(f"msgCode keys must be 1-254, got {bad}")
        return value


class AdobeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ims_org_ids: list[str] = Field(
        default_factory=list, description="IMS orgs owned by this tenant"
    )
    sandboxes: list[str] | None = Field(
        default=None, description="if set, only these sandbox names route to this tenant"
    )


class CihPoll(BaseModel):
    """Where the scheduled poller reads this tenant's CIH events (Events REST API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(pattern=r"^https?://", description="https://<pod>.<baseUrl>")
    session_env: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]{0,127}$",
        description="env var holding the IICS session id (a secret)",
    )
    page_size: int = Field(default=200, ge=1, le=2000)
    overlap_seconds: int = Field(default=300, ge=0, le=86400)


class InformaticaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    applications: list[str] = Field(
        default_factory=list, description="CIH application names owned by this tenant"
    )
    poll: CihPoll | None = None


ENV_NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,127}$"
DURATION_PATTERN = r"^[1-9][0-9]{0,6}[smhd]$"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """``90s`` / ``15m`` / ``4h`` / ``2d`` → timedelta (Alertmanager's spelling, one unit);
    a timedelta passes through, anything else is refused with the accepted form."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and re.fullmatch(DURATION_PATTERN, value):
        return timedelta(seconds=int(value[:-1]) * _UNIT_SECONDS[value[-1]])
    raise ValueError(f"a duration is a whole number and a unit s, m, h or d (4h), not {value!r}")


def format_duration(value: timedelta) -> str:
    """The largest unit up to hours that divides it (on-call reads ``24h``, ``90m``)."""
    seconds = int(value.total_seconds())
    for unit in "hm":
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]


class PagerDutyDestination(BaseModel):
    """PagerDuty Events v2; the routing key is a secret, so the file names the env var
    that holds it (filled from Secret Manager in production)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "error"
    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="page an incident still firing again after this long (e.g. 4h)",
    )
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")


class SlackDestination(BaseModel):
    """A Slack incoming webhook; its URL is a secret, named by env var like the routing key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(pattern=ENV_NAME_PATTERN)
    min_severity: Severity = "warning"
    repeat_after: Duration = Field(
        default=timedelta(hours=4),
        json_schema_extra={"default": "4h"},
        description="post an incident still firing again after this long (e.g. 4h)",
    )


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pagerduty: PagerDutyDestination | None = None
    slack: SlackDestination | None = None
    auto_resolve: dict[Source, Duration] = Field(
        default_factory=dict,
        description="source → quiet time after which an open incident is resolved "
        "(e.g. liveramp.subtask: 24h); sources not listed are never auto-resolved",
    )

    @property
    def configured(self) -> bool:
        return self.pagerduty is not None or self.slack is not None


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(default=50.0, gt=0)
    burst: int = Field(default=100, ge=1)


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=TENANT_ID_PATTERN, description="Safe Haven tenant id (Tenant-ID header)"
    )
    name: str = Field(min_length=1, max_length=128)
    topic: str | None = Field(
        default=None, pattern=TOPIC_PATTERN, description="default alerts-<id>"
    )
    service_accounts: list[ServiceAccount] = Field(default_factory=list)
    subtask: SubtaskSettings = Field(default_factory=SubtaskSettings)
    adobe: AdobeSettings = Field(default_factory=AdobeSettings)
    informatica: InformaticaSettings = Field(default_factory=InformaticaSettings)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        # YAML reads an unquoted 4242 as an int; the id is a string everywhere else.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("topic")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.lower().startswith("goog"):
            raise ValueError("topic names must not start with 'goog' (reserved by Pub/Sub)")
        return value

    @property
    def topic_name(self) -> str:
        return self.topic or f"alerts-{self.id}"


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="alertbridge tenants file")

    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TenantsFile:
        _no_duplicates("id", [t.id for t in self.tenants])
        _no_duplicates("topic", [t.topic_name for t in self.tenants])
        hashes: dict[str, str] = {}
        for tenant in self.tenants:
            for account in tenant.service_accounts:
                if (
                    hashes.setdefault(account.username, account.password_hash)
                    != account.password_hash
                ):
                    raise ValueError(
                        f"service_accounts.username {account.username!r} is bound to several "
                        "tenants with different password_hash values; one account has one secret"
                    )
        _no_duplicates("adobe.ims_org_ids", _org_keys(self.tenants))
        _no_duplicates(
            "informatica.applications",
            [a for t in self.tenants for a in t.informatica.applications],
        )
        return self


def _org_keys(tenants: Iterable[Tenant]) -> list[str]:
    """An org may be split across tenants by sandbox; the (org, sandbox) pair must be unique."""
    keys: list[str] = []
    for tenant in tenants:
        for org in tenant.adobe.ims_org_ids:
            for sandbox in tenant.adobe.sandboxes or ["*"]:
                keys.append(f"{org}/{sandbox}")
    return keys


def _no_duplicates(key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key} {value!r} appears more than once")
        seen.add(value)


class Tenants:
    """Loaded tenants with the look-ups routing and auth need."""

    def __init__(self, file: TenantsFile) -> None:
        self.file = file
        self._by_id = {t.id: t for t in file.tenants}
        self._accounts: dict[str, tuple[ServiceAccount, list[str]]] = {}
        for tenant in file.tenants:
            for account in tenant.service_accounts:
                self._accounts.setdefault(account.username, (account, []))[1].append(tenant.id)
        self._apps = {a: t for t in file.tenants for a in t.informatica.applications}

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.file.tenants)

    def __len__(self) -> int:
        return len(self.file.tenants)

    def get(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    def account(self, username: str) -> tuple[ServiceAccount, list[str]] | None:
        """The account and the ids of every tenant it is bound to."""
        return self._accounts.get(username)

    def by_adobe_org(self, ims_org_id: str, sandbox: str | None) -> Tenant | None:
        """Most specific match wins: a tenant listing the sandbox beats one listing none."""
        fallback: Tenant | None = None
        for tenant in self.file.tenants:
            if ims_org_id not in tenant.adobe.ims_org_ids:
                continue
            if tenant.adobe.sandboxes is None:
                fallback = fallback or tenant
            elif sandbox is not None and sandbox in tenant.adobe.sandboxes:
                return tenant
        return fallback

    def by_informatica_application(self, application: str) -> Tenant | None:
        return self._apps.get(application)


def _location(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a path a human finds in the YAML: tenants[0].id."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_tenants(data: Any, origin: str = "<tenants>") -> Tenants:
    try:
        return Tenants(TenantsFile.model_validate(data))
    except ValidationError as exc:
        problems = [
            f"{_location(tuple(err['loc'])) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise TenantsFileError(f"invalid tenants file {origin}: " + "; ".join(problems)) from None


def load_tenants(path: str | os.PathLike[str]) -> Tenants:
    """Read and validate a tenants YAML file; errors name the offending key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantsFileError(f"cannot read tenants file {path}: {exc.strerror}") from None
    return loads_tenants(text, origin=str(path))


def loads_tenants(text: str, origin: str = "<tenants>") -> Tenants:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TenantsFileError(f"invalid YAML in tenants file {origin}: {exc}") from None
    return parse_tenants(data, origin)


def json_schema() -> dict[str, Any]:
    schema = TenantsFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://alertbridge.dev/schemas/tenants.schema.json"
    return schema
