"""Bearer tokens: HS256 JWTs (PyJWT) naming the account and the tenants it is bound to.

Signing keys carry a key id (``kid``) so they can rotate: the active key signs, every
key in the ring verifies. Keys come from ``ALERTBRIDGE_JWT_KEYS`` (Secret Manager in
production), a JSON object ``{"<kid>": "<secret of at least 32 bytes>"}``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt

ISSUER = "alertbridge"
AUDIENCE = "alertbridge-ingest"
ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 1800  # the seed's expires_in
LEEWAY_SECONDS = 30
MIN_KEY_BYTES = 32


class KeyringError(ValueError):
    pass


class InvalidToken(Exception):
    """The token cannot be trusted; the message is safe to show (no token material)."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes] = field(repr=False)
    active_kid: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("no JWT signing keys configured")
        if self.active_kid not in self.keys:
            raise KeyringError(f"active key id {self.active_kid!r} is not in the keyring")
        short = [kid for kid, key in self.keys.items() if len(key) < MIN_KEY_BYTES]
        if short:
            raise KeyringError(f"JWT keys {short} are shorter than {MIN_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"Keyring(kids={sorted(self.keys)}, active_kid={self.active_kid!r})"

    @classmethod
    def from_json(cls, text: str, active_kid: str | None = None) -> Keyring:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise KeyringError("ALERTBRIDGE_JWT_KEYS is not a JSON object") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise KeyringError('ALERTBRIDGE_JWT_KEYS must be {"<kid>": "<secret>"}')
        keys = {kid: value.encode() for kid, value in data.items()}
        return cls(keys, active_kid or next(iter(keys), ""))

    @classmethod
    def generate(cls, kid: str = "dev") -> Keyring:
        """A throwaway key for the local stack and tests."""
        return cls({kid: secrets.token_urlsafe(48).encode()}, kid)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    tenants: tuple[str, ...]
    expires_at: int
    token_id: str
    not_before: int = 0


def issue_token(
    keyring: Keyring, subject: str, tenants: list[str], now: float | None = None
) -> tuple[str, int]:
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenants": tenants,
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_TTL_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        payload,
        keyring.keys[keyring.active_kid],
        algorithm=ALGORITHM,
        headers={"kid": keyring.active_kid},
    )
    return token, TOKEN_TTL_SECONDS


def verify_token(keyring: Keyring, token: str, now: float | None = None) -> TokenClaims:
    """Check signature (by kid), algorithm, issuer, audience and time claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the bearer token is not a well-formed JWT") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"the token's algorithm is not {ALGORITHM}")
    if not isinstance(kid, str) or kid not in keyring.keys:
        raise InvalidToken("the token's key id is unknown")
    options: Any = {"require": ["exp", "iat", "nbf", "sub", "aud", "iss"]}
    try:
        claims = (
            jwt.decode(
                token,
                keyring.keys[kid],
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options=options,
            )
            if now is None
            else _decode_at(keyring.keys[kid], token, now, options)
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("the token is not valid yet") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token's audience is wrong") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the token's issuer is wrong") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token's signature does not verify") from None
    except jwt.PyJWTError:
        raise InvalidToken("the token is invalid") from None
    tenants = claims.get("tenants")
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise InvalidToken("the token names no tenants")
    return TokenClaims(
        str(claims["sub"]),
        tuple(tenants),
        int(claims["exp"]),
        str(claims.get("jti")),
        int(claims["nbf"]),
    )


class VerifiedTokens:
    """Remembers tokens whose signature and claims already verified, until they expire.

    A sender reuses one token for up to 30 minutes, so verifying its HMAC and claims on
    every request is repeated work (~5 % of an ingress profile). A hit is re-checked
    against the clock (``nbf``/``exp`` with the same leeway), so an expired token is refused
    exactly as before; only successes are kept, keyed by a SHA-256 of the token (the token
    itself is not held), bounded in size. A different keyring empties it, so a cached
    verdict never outlives the key that signed the token.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[bytes, TokenClaims] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None

    def __repr__(self) -> str:
        return f"VerifiedTokens(entries={len(self._entries)})"

    def verify(self, keyring: Keyring, token: str, now: float | None = None) -> TokenClaims:
        at = now if now is not None else time.time()
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if keyring is not self._keyring:
                self._entries.clear()
                self._keyring = keyring
            claims = self._entries.get(digest)
        if claims is not None:
            if claims.expires_at + LEEWAY_SECONDS < at:
                with self._lock:
                    self._entries.pop(digest, None)
                raise InvalidToken("the token has expired")
            if claims.not_before - LEEWAY_SECONDS <= at:
                return claims
        claims = verify_token(keyring, token, now)
        with self._lock:
            self._entries[digest] = claims
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return claims


def _decode_at(key: bytes, token: str, now: float, options: Any) -> dict[str, Any]:
    """Decode as if the clock read ``now`` (tests of expiry without sleeping)."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={**options, "verify_exp": False, "verify_nbf": False, "verify_iat": False},  # type: ignore[arg-type]
    )
    if int(claims["exp"]) + LEEWAY_SECONDS < now:
        raise jwt.ExpiredSignatureError
    if int(claims["nbf"]) - LEEWAY_SECONDS > now:
        raise jwt.ImmatureSignatureError
    return claims
