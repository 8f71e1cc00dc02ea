"""No one let in where they don't belong: forged tokens, cross-tenant use, timing of logins."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from alertbridge.auth import passwords
from alertbridge.auth.tokens import ALGORITHM, AUDIENCE, ISSUER
from alertbridge.runtime import Runtime
from conftest import TopicWatch, subtask_body, token_for

PATH = "/analytics-environment/v1/job-pub-sub-messages"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "acme-etl",
        "tenants": ["4242"],
        "iat": now,
        "nbf": now,
        "exp": now + 1800,
        "jti": "x",
    }
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(runtime: Runtime) -> dict[str, str]:
    assert runtime.keyring is not None
    kid = runtime.keyring.active_kid
    key = runtime.keyring.keys[kid]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header_none = b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    # HS/RS confusion: HMAC keyed with an RSA public key, labelled RS256 / HS256
    confused_sig = b64(
        __import__("hmac")
        .new(public_pem, f"{header_none}.{body}".encode(), hashlib.sha256)
        .digest()
    )
    rs_header = b64(json.dumps({"alg": "RS256", "kid": kid}).encode())
    return {
        "wrong key": jwt.encode(claims(), b"x" * 48, ALGORITHM, headers={"kid": kid}),
        "alg none": f"{header_none}.{body}.",
        "RS256 with a key of its own": jwt.encode(claims(), rsa_key, "RS256", headers={"kid": kid}),
        "HS/RS confusion": f"{rs_header}.{body}.{confused_sig}",
        "expired": jwt.encode(claims(iat=1, nbf=1, exp=100), key, ALGORITHM, headers={"kid": kid}),
        "not yet valid": jwt.encode(
            claims(nbf=int(time.time()) + 3600), key, ALGORITHM, headers={"kid": kid}
        ),
        "wrong audience": jwt.encode(
            claims(aud="someone-else"), key, ALGORITHM, headers={"kid": kid}
        ),
        "wrong issuer": jwt.encode(claims(iss="evil"), key, ALGORITHM, headers={"kid": kid}),
        "unknown kid": jwt.encode(claims(), key, ALGORITHM, headers={"kid": "nope"}),
        "no kid": jwt.encode(claims(), key, ALGORITHM),
        "no exp": jwt.encode(claims(exp=None), key, ALGORITHM, headers={"kid": kid}),
        "tenants not a list": jwt.encode(
            claims(tenants="4242"), key, ALGORITHM, headers={"kid": kid}
        ),
    }


def test_every_forged_or_stale_token_is_refused_and_publishes_nothing(
    client: Any, runtime: Runtime, ingest: TopicWatch
) -> None:
    for name, token in forged_tokens(runtime).items():
        response = client.post(
            PATH,
            json=subtask_body(),
            headers={"Tenant-ID": "4242", "Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, (name, response.get_data(as_text=True))
        assert response.get_json()["details"][0]["field"] == "Authorization"
    assert ingest.quiet(1.0) == []


def test_a_valid_token_of_tenant_a_cannot_post_for_tenant_b(
    client: Any, runtime: Runtime, ingest: TopicWatch
) -> None:
    assert runtime.keyring is not None
    kid = runtime.keyring.active_kid
    token = jwt.encode(claims(), runtime.keyring.keys[kid], ALGORITHM, headers={"kid": kid})
    response = client.post(
        PATH,
        json=subtask_body(tenantId=5151),
        headers={"Tenant-ID": "5151", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert ingest.quiet(1.0) == []


def test_unknown_user_and_wrong_password_both_run_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    real = hashlib.scrypt
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(passwords.hashlib, "scrypt", counting)
    stored = passwords.hash_secret("right")
    calls.clear()
    assert not passwords.verify_secret("wrong", stored)
    assert not passwords.verify_secret("anything", None)
    assert passwords.verify_secret("right", stored)
    assert len(calls) == 3  # an unknown user costs the same hashing as a known one


def test_comparisons_are_constant_time_by_construction() -> None:
    import inspect

    from alertbridge.sources.adobe import signature as adobe_signature

    assert "hmac.compare_digest" in inspect.getsource(passwords.verify_secret)
    assert "hmac.compare_digest" in inspect.getsource(adobe_signature.verify)


def tenants_without(change: Any) -> Any:
    """The example tenants file with ``change(data)`` applied: a later edit of the file."""
    import yaml

    from alertbridge.tenants import parse_tenants
    from conftest import EXAMPLE_TENANTS

    data = yaml.safe_load(EXAMPLE_TENANTS.read_text(encoding="utf-8"))
    change(data)
    return parse_tenants(data)


def rebound_acme(data: dict[str, Any]) -> None:
    """acme-etl moves from tenant 4242 to 5151; 4242 gets an account of its own."""
    acme, globex = data["tenants"]
    moved = acme["service_accounts"][0]
    acme["service_accounts"] = [dict(moved, username="acme-etl-2")]
    globex["service_accounts"].append(moved)


def removed_acme(data: dict[str, Any]) -> None:
    """acme-etl is deleted; tenant 4242 keeps another account."""
    acme = data["tenants"][0]
    acme["service_accounts"] = [dict(acme["service_accounts"][0], username="acme-etl-2")]


def removed_tenant(data: dict[str, Any]) -> None:
    del data["tenants"][0]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (removed_acme, 401, "Authorization"),  # a new token would not be issued either
        (rebound_acme, 403, "Tenant-ID"),  # a new token would not name 4242
        (removed_tenant, 403, "Tenant-ID"),
    ],
    ids=lambda c: getattr(c, "__name__", ""),
)
def test_a_token_issued_before_the_account_or_tenant_was_removed_is_refused(
    client: Any, runtime: Runtime, ingest: TopicWatch, change: Any, status: int, field: str
) -> None:
    token = token_for(client, "4242")
    headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token}"}
    assert client.post(PATH, json=subtask_body(), headers=headers).status_code == 202
    assert len(ingest.pull(1)) == 1
    runtime.tenants = tenants_without(change)  # the tenants file changed; the token has not
    response = client.post(PATH, json=subtask_body(jobId="job-after"), headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["details"][0]["field"] == field
    assert len(ingest.quiet(1.0)) == 1  # only the message sent before the change
