"""The tenants file is validated on load with errors that name the bad key."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import pytest
import yaml

from alertbridge.auth.passwords import verify_secret
from alertbridge.tenants import TenantsFileError, load_tenants, loads_tenants
from conftest import EXAMPLE_TENANTS, ROOT

HASH = "scrypt$14$8$1$iUSEKMj/ejpkwd5uZViUhw==$yNbTbOH1rmj6fvj8ty/gAY62Rp6fzOGqt4VheCH+lfM="


def test_example_file_loads_and_matches_its_json_schema() -> None:
    tenants = load_tenants(EXAMPLE_TENANTS)
    assert [t.id for t in tenants] == ["4242", "5151"]
    assert tenants.get("5151").topic_name == "alerts-5151"  # type: ignore[union-attr]
    schema = yaml.safe_load((ROOT / "schemas" / "tenants.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(EXAMPLE_TENANTS.read_text()), schema)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("tenants: []", "tenants"),
        ("tenants:\n  - {id: '4 2', name: a}", "tenants[0].id"),
        ("tenants:\n  - {id: '1', name: a, topik: x}", "tenants[0].topik"),
        ("tenants:\n  - {id: '1', name: a, topic: goog-x}", "tenants[0].topic"),
        (
            "tenants:\n  - {id: '1', name: a, service_accounts: "
            "[{username: u, password_hash: plain}]}",
            "tenants[0].service_accounts[0].password_hash",
        ),
        (
            "tenants:\n  - {id: '1', name: a}\n  - {id: '1', name: b}",
            "id '1' appears more than once",
        ),
        (
            "tenants:\n  - {id: '1', name: a, subtask: {severity_by_msg_code: {300: error}}}",
            "tenants[0].subtask.severity_by_msg_code",
        ),
        (
            "tenants:\n  - {id: '1', name: a, subtask: {severity_by_msg_code: {3: loud}}}",
            "tenants[0].subtask.severity_by_msg_code[3]",
        ),
        ("tenants: [", "invalid YAML"),
    ],
)
def test_invalid_files_name_the_offending_key(text: str, named: str) -> None:
    with pytest.raises(TenantsFileError) as caught:
        loads_tenants(text, origin="t.yaml")
    assert named in str(caught.value)
    assert "t.yaml" in str(caught.value)


def test_one_account_in_two_tenants_is_bound_to_both() -> None:
    text = f"""
tenants:
  - {{id: "1", name: a, service_accounts: [{{username: etl, password_hash: "{HASH}"}}]}}
  - {{id: "2", name: b, service_accounts: [{{username: etl, password_hash: "{HASH}"}}]}}
"""
    found = loads_tenants(text).account("etl")
    assert found is not None and found[1] == ["1", "2"]


def test_unquoted_numeric_tenant_id_is_read_as_a_string() -> None:
    assert loads_tenants("tenants:\n  - {id: 4242, name: a}").get("4242") is not None


def test_hash_secret_reads_stdin_and_prints_a_salted_verifiable_hash() -> None:
    def run() -> str:
        out = subprocess.run(
            [sys.executable, "-m", "alertbridge_dev.cli", "hash-secret"],
            input="s3cret-value\n",
            capture_output=True,
            text=True,
            check=True,
        )
        assert "s3cret-value" not in out.stdout + out.stderr
        return out.stdout.strip()

    first, second = run(), run()
    assert first.startswith("scrypt$") and first != second  # salted
    assert verify_secret("s3cret-value", first) and not verify_secret("s3cret-valuf", first)
    loads_tenants(
        "tenants:\n  - {id: '1', name: a, service_accounts: "
        f'[{{username: u, password_hash: "{first}"}}]}}'
    )
