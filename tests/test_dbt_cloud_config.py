"""The tenants file's ``dbt_cloud`` block: which dbt Cloud accounts a tenant owns and which
env var holds their webhook secret; errors name the key, and a secret is never inline."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from alertbridge.sources.dbt_cloud.config import DbtCloudSettings, tenant_for_account
from alertbridge.tenants import TenantsFileError, parse_tenants
from conftest import EXAMPLE_TENANTS

BLOCK = """
account_ids: [1, "70403103"]
webhook_secret_env: ACME_DBT_WEBHOOK_SECRET
"""


def test_the_block_from_yaml_reads_unquoted_account_ids_as_strings() -> None:
    block = DbtCloudSettings.model_validate(yaml.safe_load(BLOCK))
    assert block.account_ids == ["1", "70403103"]
    assert block.webhook_secret_env == "ACME_DBT_WEBHOOK_SECRET"


def test_an_absent_block_owns_no_account() -> None:
    assert DbtCloudSettings().account_ids == []


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"account_ids": ["1"]}, "webhook_secret_env"),
        ({"account_ids": ["1"], "webhook_secret_env": "lower_case"}, "webhook_secret_env"),
        ({"account_ids": ["1"], "webhook_secret_env": "A" * 129}, "webhook_secret_env"),
        ({"account_ids": ["abc"], "webhook_secret_env": "S"}, "account_ids"),
        ({"account_ids": [-1], "webhook_secret_env": "S"}, "account_ids"),
        ({"account_ids": [True], "webhook_secret_env": "S"}, "account_ids"),
        ({"account_ids": ["1", 1], "webhook_secret_env": "S"}, "account_ids"),
        (
            {"account_ids": ["1"], "webhook_secret": "plain", "webhook_secret_env": "S"},
            "webhook_secret",
        ),
    ],
)
def test_a_bad_block_is_refused_naming_the_key(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DbtCloudSettings.model_validate(data)
    # rendered as the tenants-file loader does: location and message, never the input
    rendered = "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
        for e in caught.value.errors(include_input=False, include_url=False)
    )
    assert where in rendered
    assert "plain" not in rendered


def test_owners_map_each_account_to_its_tenant_and_refuse_an_account_owned_twice() -> None:
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    data["tenants"][0]["dbt_cloud"] = {"account_ids": ["1", "2"], "webhook_secret_env": "ACME"}
    data["tenants"][1]["dbt_cloud"] = {"account_ids": ["3"], "webhook_secret_env": "GLOBEX"}
    tenants = parse_tenants(data)
    assert [tenant_for_account(tenants, a).id for a in ("1", "2", "3")] == ["4242"] * 2 + ["5151"]  # type: ignore[union-attr]
    assert tenant_for_account(tenants, "4") is None
    data["tenants"][1]["dbt_cloud"]["account_ids"] = ["2"]
    with pytest.raises(
        TenantsFileError, match=r"dbt_cloud\.account_ids '2' appears more than once"
    ):
        parse_tenants(data)
