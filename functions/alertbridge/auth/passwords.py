"""Salted scrypt hashes for service-account secrets (``alertbridge hash-secret``).

Format: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``. Verification is
constant-time, and an unknown user costs the same as a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOG2_N = 14
R = 8
P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def _derive(secret: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=1 << log2_n, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM
    )


def hash_secret(secret: str) -> str:
    if not secret:
        raise ValueError("the secret is empty")
    salt = secrets.token_bytes(16)
    digest = _derive(secret, salt, LOG2_N, R, P)
    b64 = base64.b64encode
    return f"scrypt${LOG2_N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


# A hash of a random secret nobody knows (generated once, the secret discarded), checked
# when the username is unknown so that the response time does not tell whether an account
# exists. A constant, so importing this module costs no scrypt run (cold start).
_DUMMY_HASH = "scrypt$14$8$1$0K7S3J8PyniZZHD0ctrVkQ==$QgoWkL0vmZ6iuD0ZfiDTxuqxm/dePc6ebe4v99ygZjs="


def verify_secret(secret: str, encoded: str | None) -> bool:
    """True when ``secret`` matches ``encoded``; ``None`` (unknown user) burns equal time."""
    target = encoded or _DUMMY_HASH
    try:
        scheme, log2_n, r, p, salt_b64, digest_b64 = target.split("$")
        if scheme != "scrypt" or not (10 <= int(log2_n) <= 20):
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = _derive(secret, salt, int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected) and encoded is not None
