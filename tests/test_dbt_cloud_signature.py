"""dbt Cloud webhook signatures: the Authorization header is the bare hex HMAC-SHA256 of
the raw body keyed with the webhook's secret token (docs.getdbt.com/docs/deploy/webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from alertbridge.sources.dbt_cloud import signature
from alertbridge.sources.dbt_cloud.signature import SignatureError, verify
from conftest import ROOT

SECRET = b"dbt-webhook-secret-0123456789"
BODY = (
    ROOT
    / "functions"
    / "alertbridge"
    / "sources"
    / "dbt_cloud"
    / "samples"
    / "job_run_errored.json"
).read_bytes()


def sign(body: bytes, secret: bytes = SECRET) -> str:
    """Exactly dbt's documented check: hmac.new(secret, body, sha256).hexdigest()."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def test_the_documented_hex_digest_of_the_raw_body_verifies() -> None:
    verify(BODY, sign(BODY), SECRET)


def test_the_helper_signs_as_dbt_does() -> None:
    assert signature.sign(BODY, SECRET) == sign(BODY)


def test_upper_case_hex_and_surrounding_whitespace_are_the_same_digest() -> None:
    verify(BODY, sign(BODY).upper(), SECRET)
    verify(BODY, f"  {sign(BODY)} ", SECRET)


def test_the_signature_covers_the_raw_bytes_not_the_json_they_decode_to() -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    with pytest.raises(SignatureError) as caught:
        verify(reserialised, sign(BODY), SECRET)
    assert caught.value.reason == "mismatch"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("sha256=" + sign(BODY), "malformed"),
        ("Bearer " + sign(BODY), "malformed"),
        (sign(BODY)[:-1], "malformed"),
        (sign(BODY) + "0", "malformed"),
        ("z" * 64, "malformed"),
        ("é" * 64, "malformed"),
        ("0" * 64, "mismatch"),
        (sign(BODY, b"another-secret"), "mismatch"),
        (sign(BODY + b" "), "mismatch"),
    ],
)
def test_a_header_that_is_not_this_bodys_signature_is_refused_with_its_reason(
    header: str | None, reason: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(BODY, header, SECRET)
    assert caught.value.reason == reason


def test_the_error_never_carries_the_secret_or_the_expected_digest() -> None:
    with pytest.raises(SignatureError) as caught:
        verify(BODY, "0" * 64, SECRET)
    text = f"{caught.value} {caught.value!r} {caught.value.args}"
    assert SECRET.decode() not in text and sign(BODY) not in text


def test_an_empty_secret_is_a_configuration_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, sign(BODY, b""), b"")
