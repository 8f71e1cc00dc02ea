"""The token and sub-task endpoints' HTTP contract: statuses, error bodies, nothing published."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from alertbridge.auth.tokens import AUDIENCE, ISSUER, Keyring, issue_token
from alertbridge.runtime import Runtime
from conftest import TopicWatch, subtask_body, token_for

PATH = "/analytics-environment/v1/job-pub-sub-messages"
TOKEN = "/authn/v1/oauth2/token"


def post(
    client: Any, body: Any = None, token: str | None = None, tenant: str | None = "4242", **kw: Any
) -> Any:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if tenant is not None:
        headers["Tenant-ID"] = tenant
    if body is not None and "data" not in kw:
        kw["json"] = body
    return client.post(PATH, headers=headers, **kw)


def assert_error(
    response: Any, status: int, error: str, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error and body["status"] == status and body["error_description"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    if field is not None:
        assert field in {d["field"] for d in body["details"]}, body
        assert all(d["rule"] for d in body["details"])
    return body


def test_password_grant_issues_a_bearer_jwt_bound_to_the_accounts_tenant(
    client: Any, runtime: Runtime
) -> None:
    response = client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "acme-etl",
            "password": "acme-demo-secret",
            "scope": "openid",
            "client_id": "liveramp-api",
            "response_type": "token",
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256" and header["kid"] == runtime.keyring.active_kid  # type: ignore[union-attr]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "acme-etl" and claims["tenants"] == ["4242"]
    assert claims["exp"] - claims["iat"] == 1800


def test_client_credentials_with_http_basic_also_gets_a_token(
    client: Any, runtime: Runtime
) -> None:
    basic = base64.b64encode(b"globex-etl:globex-demo-secret").decode()
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    claims = jwt.decode(response.get_json()["access_token"], options={"verify_signature": False})
    assert claims["tenants"] == ["5151"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "password", "username": "acme-etl", "password": "wrong"},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "password", "username": "nobody", "password": "x"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "acme-etl"}, 400, "invalid_request"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
        ({"scope": "openid"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
    ],
)
def test_token_errors_follow_rfc_6749(
    client: Any, runtime: Runtime, form: dict[str, str], status: int, error: str
) -> None:
    body = assert_error(client.post(TOKEN, data=form), status, error)
    assert "acme-demo-secret" not in json.dumps(body)


def test_token_endpoint_wants_a_form_body(client: Any, runtime: Runtime) -> None:
    assert_error(client.post(TOKEN, json={"grant_type": "password"}), 415, "unsupported_media_type")


def test_valid_json_message_is_accepted_with_request_and_message_ids(
    client: Any, ingest: TopicWatch
) -> None:
    response = post(client, subtask_body(), token_for(client))
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "accepted" and body["message_id"]
    (message,) = ingest.pull(1)
    assert message.attributes["request_id"] == body["request_id"]
    assert message.attributes["tenant_id"] == "4242"
    assert message.attributes["source"] == "liveramp.subtask"
    assert message.attributes["account"] == "acme-etl"
    assert json.loads(message.data) == subtask_body()


def test_form_body_is_stored_as_sent_and_marked_as_a_form(client: Any, ingest: TopicWatch) -> None:
    form = {k: str(v) for k, v in subtask_body().items()}
    response = post(client, token=token_for(client), data=form)
    assert response.status_code == 202
    (message,) = ingest.pull(1)
    assert message.attributes["content_type"] == "application/x-www-form-urlencoded"
    assert b"jobId=job-123" in message.data


def rejected_cases(client: Any, runtime: Runtime) -> list[tuple[str, Any, int, str, str | None]]:
    good = token_for(client)
    other = token_for(client, "5151")
    expired, _ = issue_token(runtime.keyring, "acme-etl", ["4242"], now=1_000_000)  # type: ignore[arg-type]
    forged, _ = issue_token(Keyring.generate(runtime.keyring.active_kid), "acme-etl", ["4242"])  # type: ignore[union-attr]
    return [
        ("no token", post(client, subtask_body()), 401, "invalid_request", None),
        ("garbage token", post(client, subtask_body(), "not-a-jwt"), 401, "invalid_token", None),
        ("expired", post(client, subtask_body(), expired), 401, "invalid_token", None),
        ("wrong key", post(client, subtask_body(), forged), 401, "invalid_token", None),
        (
            "other tenant's token",
            post(client, subtask_body(), other),
            403,
            "insufficient_scope",
            None,
        ),
        (
            "no Tenant-ID",
            post(client, subtask_body(), good, tenant=None),
            400,
            "invalid_request",
            "Tenant-ID",
        ),
        (
            "body tenant differs",
            post(client, subtask_body(tenantId=5151), good),
            400,
            "invalid_request",
            "tenantId",
        ),
        ("bad field", post(client, subtask_body(envId=10), good), 400, "invalid_request", "envId"),
        (
            "not JSON",
            post(client, token=good, data=b"{nope", content_type="application/json"),
            400,
            "invalid_request",
            "body",
        ),
        (
            "xml",
            post(client, token=good, data=b"<a/>", content_type="application/xml"),
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        (
            "too large",
            post(client, subtask_body(jobId="job-" + "x" * 254 * 1024), good),
            413,
            "payload_too_large",
            "body",
        ),
        (
            "too large body",
            post(
                client,
                token=good,
                data=b"a=" + b"x" * (254 * 1024),
                content_type="application/x-www-form-urlencoded",
            ),
            413,
            "payload_too_large",
            "body",
        ),
        ("GET", client.get(PATH), 405, "method_not_allowed", None),
    ]


def test_every_rejected_request_gets_its_status_and_publishes_nothing(
    client: Any, runtime: Runtime, ingest: TopicWatch
) -> None:
    for name, response, status, error, field in rejected_cases(client, runtime):
        try:
            assert_error(response, status, error, field)
        except AssertionError as exc:
            raise AssertionError(f"case {name!r}: {exc}") from None
    assert ingest.quiet(1.5) == []


def test_token_expiry_is_enforced_with_the_clock(client: Any, runtime: Runtime) -> None:
    token = token_for(client)
    runtime.clock = lambda: jwt.decode(token, options={"verify_signature": False})["exp"] + 31
    assert_error(post(client, subtask_body(), token), 401, "invalid_token")


def test_a_token_already_accepted_is_refused_once_it_expires(client: Any, runtime: Runtime) -> None:
    token = token_for(client)
    assert post(client, subtask_body(), token).status_code == 202  # verified and remembered
    runtime.clock = lambda: jwt.decode(token, options={"verify_signature": False})["exp"] + 31
    assert_error(post(client, subtask_body(), token), 401, "invalid_token")


def test_a_token_already_accepted_is_refused_once_its_key_is_retired(
    client: Any, runtime: Runtime
) -> None:
    token = token_for(client)
    assert post(client, subtask_body(), token).status_code == 202
    runtime.keyring = Keyring.generate("k2")
    assert_error(post(client, subtask_body(), token), 401, "invalid_token")


def test_a_token_signed_with_a_retired_key_id_is_refused(client: Any, runtime: Runtime) -> None:
    token = token_for(client)
    runtime.keyring = Keyring.generate("k2")
    assert_error(post(client, subtask_body(), token), 401, "invalid_token")


def test_rotated_keyring_still_verifies_the_previous_key(client: Any, runtime: Runtime) -> None:
    token = token_for(client)
    old = runtime.keyring
    assert old is not None
    new = Keyring.generate("k2")
    runtime.keyring = Keyring({**old.keys, **new.keys}, "k2")
    assert post(client, subtask_body(), token).status_code == 202
    claims = jwt.decode(
        token_for(client), options={"verify_signature": False}, audience=AUDIENCE, issuer=ISSUER
    )
    assert claims["sub"] == "acme-etl"


def test_repr_of_keyring_and_client_never_shows_secrets(runtime: Runtime) -> None:
    from alertbridge_dev.client import SubTaskClient

    assert runtime.keyring is not None
    for key in runtime.keyring.keys.values():
        assert key.decode() not in repr(runtime.keyring) and key.decode() not in repr(runtime)
    client = SubTaskClient("http://x", "acme-etl", "acme-demo-secret", "4242")
    assert "acme-demo-secret" not in repr(client)
