"""The tenants file: one source of truth for routing, auth and topic creation.

The same YAML drives the runtime (this module), the local stack and Terraform
(``yamldecode`` of the same file). ``schemas/tenants.schema.json`` is generated
from these models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from alertbridge.auth.accounts import (
    HASH_PATTERN,
    TENANT_ID_PATTERN,
    USERNAME_MAX_LENGTH,
    USERNAME_PATTERN,
    Account,
    Accounts,
    index_accounts,
    parse_yaml,
    read_tenants_text,
)
from alertbridge.auth.accounts import TenantsFileError as TenantsFileError
from alertbridge.durations import Duration
from alertbridge.expectations.config import Expectation
from alertbridge.notify.opsgenie.config import OpsgenieDestination
from alertbridge.notify.pagerduty.config import PagerDutyDestination
from alertbridge.notify.slack.config import SlackDestination
from alertbridge.notify.teams.config import TeamsDestination
from alertbridge.notify.webhook.config import WebhookDestination
from alertbridge.sources import specs

# Pub/Sub topic names: 3-255 chars, start with a letter, no "goog" prefix.
TOPIC_PATTERN = r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$"


class ServiceAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH, pattern=USERNAME_PATTERN)
    password_hash: str = Field(
        pattern=HASH_PATTERN,
        description="output of `alertbridge hash-secret`; never the plain secret",
        repr=False,
    )


def _registered_source(value: str) -> str:
    names = [spec.name for spec in specs()]
    if value not in names:
        raise ValueError(f"unknown source {value!r}; registered: {', '.join(names)}")
    return value


SourceName = Annotated[
    str,
    AfterValidator(_registered_source),
    WithJsonSchema({"type": "string", "enum": [spec.name for spec in specs()]}),
]


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pagerduty: PagerDutyDestination | None = None
    slack: SlackDestination | None = None
    teams: TeamsDestination | None = None
    opsgenie: OpsgenieDestination | None = None
    webhook: WebhookDestination | None = None
    auto_resolve: dict[SourceName, Duration] = Field(
        default_factory=dict,
        description="source → quiet time after which an open incident is resolved "
        "(e.g. liveramp.subtask: 24h); sources not listed are never auto-resolved",
    )

    @property
    def configured(self) -> bool:
        destinations = (self.pagerduty, self.slack, self.teams, self.opsgenie, self.webhook)
        return any(d is not None for d in destinations)


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(default=50.0, gt=0)
    burst: int = Field(default=100, ge=1)


class Tenant(BaseModel):
    """A tenant's own settings. Each source's block (``subtask``, ``adobe``, ...) is added
    from the source registry by ``_tenant_model``; read it with the source's ``settings_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=TENANT_ID_PATTERN, description="Safe Haven tenant id (Tenant-ID header)"
    )
    name: str = Field(min_length=1, max_length=128)
    topic: str | None = Field(
        default=None, pattern=TOPIC_PATTERN, description="default alerts-<id>"
    )
    service_accounts: list[ServiceAccount] = Field(default_factory=list)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    expectations: list[Expectation] = Field(
        default_factory=list,
        description="runs that must keep coming; a missing one fires alertbridge.expectation",
    )

    @field_validator("expectations")
    @classmethod
    def _unique_expectations(cls, value: list[Expectation]) -> list[Expectation]:
        _no_duplicates("expectations.name", [e.name for e in value])
        return value

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


def _tenant_model() -> type[Tenant]:
    """Tenant with one optional block per registered source, named by its ``config_key``."""
    blocks: dict[str, Any] = {
        spec.config_key: (config, Field(default_factory=config))
        for spec in specs()
        for config in [spec.load_config()]
    }
    model: type[Tenant] = create_model("Tenant", __base__=Tenant, __module__=__name__, **blocks)
    return model


TenantModel = _tenant_model()


class TenantsFileBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="alertbridge tenants file")

    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TenantsFileBase:
        _no_duplicates("id", [t.id for t in self.tenants])
        _no_duplicates("topic", [t.topic_name for t in self.tenants])
        accounts_of(self.tenants)  # one username, one secret
        _no_duplicates_per_source(self.tenants)
        return self


TenantsFile: type[TenantsFileBase] = create_model(
    "TenantsFile",
    __base__=TenantsFileBase,
    __module__=__name__,
    tenants=(list[TenantModel], Field(min_length=1)),  # type: ignore[valid-type]
)


def accounts_of(tenants: Iterable[Tenant]) -> Accounts:
    return index_accounts(
        (tenant.id, Account(account.username, account.password_hash))
        for tenant in tenants
        for account in tenant.service_accounts
    )


def _no_duplicates_per_source(tenants: Iterable[Tenant]) -> None:
    """What routes an event to a tenant (an org, an application...) names one tenant only:
    each source's block lists those keys in ``unique_keys``."""
    collected: dict[str, list[str]] = {}
    for tenant in tenants:
        for spec in specs():
            unique_keys = getattr(getattr(tenant, spec.config_key), "unique_keys", None)
            for key, values in (unique_keys() if unique_keys else {}).items():
                collected.setdefault(key, []).extend(values)
    for key, values in collected.items():
        _no_duplicates(key, values)


def _no_duplicates(key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key} {value!r} appears more than once")
        seen.add(value)


class Tenants:
    """Loaded tenants with the look-ups routing and auth need."""

    def __init__(self, file: TenantsFileBase) -> None:
        self.file = file
        self._by_id = {t.id: t for t in file.tenants}
        self.accounts = accounts_of(file.tenants)
        self._memo: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.file.tenants)

    def __len__(self) -> int:
        return len(self.file.tenants)

    def get(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    def account(self, username: str) -> tuple[Account, list[str]] | None:
        """The account and the ids of every tenant it is bound to."""
        return self.accounts.account(username)

    def owner_of(self, key: str, keys_of: Callable[[Tenant], Iterable[str]]) -> Tenant | None:
        """The tenant whose ``keys_of`` lists ``key`` (an application, an account): the index
        is built once per loaded file, and the file's validation keeps each key to one tenant."""
        index: dict[str, Tenant] = self.memo(
            keys_of.__qualname__, lambda: {k: t for t in self for k in keys_of(t)}
        )
        return index.get(key)

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        """An index a source builds once over these tenants (e.g. application → tenant)."""
        if name not in self._memo:
            self._memo[name] = build()
        return self._memo[name]


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
    text, origin = read_tenants_text(None, Path(path))
    return loads_tenants(text, origin=origin)


def loads_tenants(text: str, origin: str = "<tenants>") -> Tenants:
    return parse_tenants(parse_yaml(text, origin), origin)


def json_schema() -> dict[str, Any]:
    schema = TenantsFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://alertbridge.dev/schemas/tenants.schema.json"
    return schema
