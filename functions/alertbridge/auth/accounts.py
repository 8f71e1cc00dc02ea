"""Service accounts, read straight from the tenants file without the tenants models.

The token function needs nothing else from the file, and building the full tenants model
(pydantic plus a model per source and destination block) was two thirds of its cold start.
The rules here are the ones the full model applies to the same keys (``tenants.py`` uses
these patterns and ``index_accounts``), so both readers accept the same accounts; every
other function still validates the whole file when it starts.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TENANT_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,62}$"
USERNAME_PATTERN = r"^[A-Za-z0-9._@+-]+$"
USERNAME_MAX_LENGTH = 128
HASH_PATTERN = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class TenantsFileError(ValueError):
    """The tenants file is invalid; the message names the offending key."""


@dataclass(frozen=True)
class Account:
    username: str
    password_hash: str = field(repr=False)


class Accounts:
    """username → (account, ids of every tenant it is bound to)."""

    def __init__(self, index: dict[str, tuple[Account, list[str]]]) -> None:
        self._index = index

    def account(self, username: str) -> tuple[Account, list[str]] | None:
        return self._index.get(username)

    def __len__(self) -> int:
        return len(self._index)


def index_accounts(bindings: Iterable[tuple[str, Account]]) -> Accounts:
    """(tenant id, account) pairs → Accounts; one username has one secret in the whole file."""
    index: dict[str, tuple[Account, list[str]]] = {}
    for tenant_id, account in bindings:
        known = index.setdefault(account.username, (account, []))
        if known[0].password_hash != account.password_hash:
            raise ValueError(
                f"service_accounts.username {account.username!r} is bound to several "
                "tenants with different password_hash values; one account has one secret"
            )
        known[1].append(tenant_id)
    return Accounts(index)


def read_tenants_text(
    inline: str | None, path: Path | None, inline_origin: str = "ALERTBRIDGE_TENANTS"
) -> tuple[str, str]:
    """The tenants YAML and where it came from: the inline variable wins over the file."""
    if inline:
        return inline, inline_origin
    if path is None:
        raise RuntimeError("set ALERTBRIDGE_TENANTS_FILE or ALERTBRIDGE_TENANTS")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise TenantsFileError(f"cannot read tenants file {path}: {exc.strerror}") from None


def parse_yaml(text: str, origin: str) -> Any:
    """The tenants file's data. JSON (a subset of YAML) is read without the YAML library:
    Terraform stores the file in its secret as JSON, exactly as its own ``yamldecode`` read
    it, so a deployed function sees the data Terraform created topics from."""
    if text.lstrip().startswith("{"):
        with contextlib.suppress(ValueError):  # not JSON after all: YAML says what is wrong
            return json.loads(text)
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise TenantsFileError(f"invalid YAML in tenants file {origin}: {exc}") from None


def _string(value: Any, where: str, pattern: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a string")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{where}: must have at most {max_length} characters")
    if not re.fullmatch(pattern, value):
        raise ValueError(f"{where}: must match pattern {pattern!r}")
    return value


def _bindings(data: Any) -> Iterable[tuple[str, Account]]:
    tenants = data.get("tenants") if isinstance(data, dict) else None
    if not isinstance(tenants, list) or not tenants:
        raise ValueError("tenants: must be a non-empty list")
    for i, tenant in enumerate(tenants):
        if not isinstance(tenant, dict):
            raise ValueError(f"tenants[{i}]: must be a mapping")
        raw_id = tenant.get("id")
        # YAML reads an unquoted 4242 as an int; the id is a string everywhere else.
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        tenant_id = _string(raw_id, f"tenants[{i}].id", TENANT_ID_PATTERN)
        accounts = tenant.get("service_accounts") or []
        if not isinstance(accounts, list):
            raise ValueError(f"tenants[{i}].service_accounts: must be a list")
        for j, account in enumerate(accounts):
            where = f"tenants[{i}].service_accounts[{j}]"
            if not isinstance(account, dict):
                raise ValueError(f"{where}: must be a mapping")
            username = _string(
                account.get("username"),
                f"{where}.username",
                USERNAME_PATTERN,
                USERNAME_MAX_LENGTH,
            )
            secret = _string(account.get("password_hash"), f"{where}.password_hash", HASH_PATTERN)
            yield tenant_id, Account(username, secret)


def accounts_from_data(data: Any, origin: str = "<tenants>") -> Accounts:
    """The accounts of a parsed tenants file; the error names the offending key."""
    try:
        return index_accounts(list(_bindings(data)))
    except ValueError as exc:
        raise TenantsFileError(f"invalid tenants file {origin}: {exc}") from None


def load_accounts(inline: str | None, path: Path | None) -> Accounts:
    text, origin = read_tenants_text(inline, path)
    return accounts_from_data(parse_yaml(text, origin), origin)
