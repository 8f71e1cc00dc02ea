"""The token function reads the service accounts alone (auth/accounts.py); every other
function reads the whole tenants file. Both must agree on every account, or a login would
succeed where the token's use is refused (or the other way round)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbridge.auth.accounts import Accounts, TenantsFileError, accounts_from_data
from alertbridge.tenants import parse_tenants

HASH_A = "scrypt$14$8$1$iUSEKMj/ejpkwd5uZViUhw==$yNbTbOH1rmj6fvj8ty/gAY62Rp6fzOGqt4VheCH+lfM="
HASH_B = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="

# valid values and the near misses an edited file holds: wrong types, spaces, empty,
# a trailing newline (YAML block scalars keep one), plain secrets, too long
TENANT_IDS = st.sampled_from(["4242", "5151", 4242, "a-b_c", "4 2", "", True, None, "x" * 64])
USERNAMES = st.sampled_from(
    ["etl", "ops@acme.com", "a.b+c-d", "bad name", "", "etl\n", 42, None, "u" * 129, "u" * 128]
)
HASHES = st.sampled_from([HASH_A, HASH_B, "plain", HASH_A + "\n", "", None, 7])


def _account(username: Any, secret: Any) -> dict[str, Any]:
    return {"username": username, "password_hash": secret}


ACCOUNTS = st.lists(st.builds(_account, USERNAMES, HASHES), max_size=3)
TENANTS = st.lists(
    st.builds(
        lambda i, n, accounts: {"id": i, "name": f"tenant {n}", "service_accounts": accounts},
        TENANT_IDS,
        st.integers(0, 9),
        ACCOUNTS,
    ),
    min_size=1,
    max_size=3,
)


def _index(accounts: Accounts, usernames: set[str]) -> dict[str, tuple[str, list[str]]]:
    found = {name: accounts.account(name) for name in usernames}
    return {name: (hit[0].password_hash, hit[1]) for name, hit in found.items() if hit}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TENANTS)
def test_the_token_functions_reader_accepts_exactly_the_accounts_the_tenants_model_does(
    tenants: list[dict[str, Any]],
) -> None:
    data = {"tenants": tenants}
    usernames = {
        a["username"]
        for t in tenants
        for a in t["service_accounts"]
        if isinstance(a["username"], str)
    }
    try:
        full = parse_tenants(data, origin="t.yaml")
    except TenantsFileError as refused:
        full_error: str | None = str(refused)
    else:
        full_error = None
    try:
        light = accounts_from_data(data, origin="t.yaml")
    except TenantsFileError as refused:
        # anything the light reader refuses, the full model refuses too, at the same key
        assert full_error is not None, f"only the token function refused: {refused}"
        where = re.search(r"t\.yaml: (tenants\[\d+\][\w.\[\]]*)", str(refused))
        if where:
            assert where.group(1) in full_error
        for secret in (HASH_A, HASH_B):
            assert secret not in str(refused)
        return
    if full_error is None:
        assert _index(light, usernames) == _index(full.accounts, usernames)
    else:
        # the full model refused something the accounts do not hold (a duplicate id, a
        # bad name...): the light reader must have read every account it was given right
        assert not any(
            key in full_error for key in ("service_accounts", "password_hash", "].id")
        ), full_error


def test_the_token_function_refuses_one_username_with_two_secrets() -> None:
    data = {
        "tenants": [
            {"id": "1", "name": "a", "service_accounts": [_account("etl", HASH_A)]},
            {"id": "2", "name": "b", "service_accounts": [_account("etl", HASH_B)]},
        ]
    }
    with pytest.raises(TenantsFileError, match="one account has one secret") as refused:
        accounts_from_data(data, "t.yaml")
    assert HASH_A not in str(refused.value) and HASH_B not in str(refused.value)


def test_an_account_in_two_tenants_is_bound_to_both_and_its_repr_hides_the_hash() -> None:
    text = f"""
tenants:
  - {{id: 4242, name: a, service_accounts: [{{username: etl, password_hash: "{HASH_A}"}}]}}
  - {{id: "5151", name: b, service_accounts: [{{username: etl, password_hash: "{HASH_A}"}}]}}
"""
    found = accounts_from_data(yaml.safe_load(text), "t.yaml").account("etl")
    assert found is not None and found[1] == ["4242", "5151"]
    assert HASH_A not in repr(found[0])
