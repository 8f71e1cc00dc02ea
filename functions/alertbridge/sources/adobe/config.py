"""The ``adobe`` block of a tenant, and routing an Adobe event to its tenant by IMS org."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.sources.adobe import SPEC

if TYPE_CHECKING:
    from alertbridge.tenants import Tenant, Tenants

CONFIG_KEY = SPEC.config_key


class AdobeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ims_org_ids: list[str] = Field(
        default_factory=list, description="IMS orgs owned by this tenant"
    )
    sandboxes: list[str] | None = Field(
        default=None, description="if set, only these sandbox names route to this tenant"
    )

    def unique_keys(self) -> dict[str, list[str]]:
        """An org may be split across tenants by sandbox; the (org, sandbox) pair must be
        unique across the tenants file."""
        keys = [f"{org}/{box}" for org in self.ims_org_ids for box in self.sandboxes or ["*"]]
        return {"adobe.ims_org_ids": keys}


def settings_of(tenant: Tenant) -> AdobeSettings:
    return cast(AdobeSettings, getattr(tenant, CONFIG_KEY))


def tenant_for_org(tenants: Tenants, ims_org_id: str, sandbox: str | None) -> Tenant | None:
    """Most specific match wins: a tenant listing the sandbox beats one listing none."""
    fallback: Tenant | None = None
    for tenant in tenants:
        settings = settings_of(tenant)
        if ims_org_id not in settings.ims_org_ids:
            continue
        if settings.sandboxes is None:
            fallback = fallback or tenant
        elif sandbox is not None and sandbox in settings.sandboxes:
            return tenant
    return fallback
