"""The ``informatica`` block of a tenant, and routing a CIH event by application name."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.sources.informatica import SPEC

if TYPE_CHECKING:
    from alertbridge.tenants import Tenant, Tenants

CONFIG_KEY = SPEC.config_key


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

    def unique_keys(self) -> dict[str, list[str]]:
        return {"informatica.applications": list(self.applications)}


def settings_of(tenant: Tenant) -> InformaticaSettings:
    return cast(InformaticaSettings, getattr(tenant, CONFIG_KEY))


def tenant_for_application(tenants: Tenants, application: str) -> Tenant | None:
    return tenants.owner_of(application, _applications)


def _applications(tenant: Tenant) -> list[str]:
    return settings_of(tenant).applications
