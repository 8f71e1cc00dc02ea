"""dbt Cloud webhook authenticity (PROTOCOL.md, "Authentication").

dbt sends ``Authorization: <hex HMAC-SHA256 of the raw body keyed with the webhook's
secret token>``: no scheme word, no base64, no timestamp. The check runs on the bytes as
received, before the body is trusted, and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
Reason = Literal["missing", "malformed", "mismatch"]


class SignatureError(Exception):
    """The request is not from dbt Cloud (or not for this secret); says why, never the
    digest or the secret."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def sign(raw_body: bytes, secret: bytes) -> str:
    """The header dbt Cloud sends for ``raw_body`` (also what tests and the dev client use)."""
    return hmac.new(secret, raw_body, hashlib.sha256).hexdigest()


def verify(raw_body: bytes, authorization: str | None, secret: bytes) -> None:
    """Return if ``authorization`` is the body's signature under ``secret``; raise
    SignatureError otherwise (ValueError for an empty secret: a misconfiguration)."""
    if not secret:
        raise ValueError("the dbt Cloud webhook secret is empty")
    header = (authorization or "").strip()
    if not header:
        raise SignatureError("missing", "no Authorization header: dbt Cloud always sends one")
    if not HEX_DIGEST.fullmatch(header):
        raise SignatureError(
            "malformed", "Authorization is not a bare 64-character hex HMAC-SHA256 digest"
        )
    if not hmac.compare_digest(sign(raw_body, secret), header.lower()):
        raise SignatureError(
            "mismatch", "Authorization is not the HMAC-SHA256 of this body with the secret"
        )
