"""The tenants file's ``dbt_cloud`` block, modelled like the other source blocks.

``dbt_cloud: {account_ids: ["70403103"], webhook_secret_env: ACME_DBT_WEBHOOK_SECRET}``.
A dbt Cloud webhook is configured per account (PROTOCOL.md, "Delivery") and signed with
its own secret token; the file names the env var holding it (Secret Manager in
production), never the secret. An account belongs to one tenant (``unique_keys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertbridge.sources.dbt_cloud import SPEC
from alertbridge.vocabulary import ENV_NAME_PATTERN

if TYPE_CHECKING:
    from alertbridge.tenants import Tenant, Tenants

CONFIG_KEY = SPEC.config_key

AccountId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class DbtCloudSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_ids: list[AccountId] = Field(
        default_factory=list, description="dbt Cloud account ids (accountId) owned by this tenant"
    )
    webhook_secret_env: str | None = Field(
        default=None,
        pattern=ENV_NAME_PATTERN,
        description="env var holding the webhook's secret token (a secret)",
    )

    @field_validator("account_ids", mode="before")
    @classmethod
    def _ids_as_strings(cls, value: Any) -> Any:
        # YAML reads an unquoted 70403103 as an int, and dbt sends accountId as a number.
        if not isinstance(value, list):
            return value
        return [
            str(item) if isinstance(item, int) and not isinstance(item, bool) else item
            for item in value
        ]

    @model_validator(mode="after")
    def _secret_named(self) -> DbtCloudSettings:
        if self.account_ids and self.webhook_secret_env is None:
            raise ValueError(
                "webhook_secret_env is required when account_ids is set: "
                "dbt Cloud webhooks are checked against their secret token"
            )
        if len(set(self.account_ids)) != len(self.account_ids):
            raise ValueError("account_ids lists an account more than once")
        return self

    def unique_keys(self) -> dict[str, list[str]]:
        return {"dbt_cloud.account_ids": list(self.account_ids)}


def settings_of(tenant: Tenant) -> DbtCloudSettings:
    return cast(DbtCloudSettings, getattr(tenant, CONFIG_KEY))


def tenant_for_account(tenants: Tenants, account_id: str) -> Tenant | None:
    return tenants.owner_of(account_id, _accounts)


def _accounts(tenant: Tenant) -> list[str]:
    return settings_of(tenant).account_ids
