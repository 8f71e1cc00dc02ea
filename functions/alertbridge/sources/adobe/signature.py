"""Adobe I/O Events digital signatures, verified before anything else is done.

Protocol (developer.adobe.com/events/docs/guides, "Security considerations" /
"Digital signatures"; adobe/aio-lib-events ``src/signatureUtils.js``):
- two headers ``x-adobe-digital-signature-1`` and ``-2``, each the base64 RSA-SHA256
  (PKCS#1 v1.5) signature of the raw request body;
- two headers ``x-adobe-public-key1-path`` and ``-2-path``, relative paths such as
  ``/prod/keys/pub-key-<id>.pem`` on Adobe's key host (static.adobeioevents.com);
- the keys are PEM SPKI; the request is authentic when either signature verifies; keys
  are cached by path (the SDK caches them for 24 h);
- the payload's ``recipient_client_id`` (CloudEvents: the extension attribute
  ``recipientclientid``) must be your client id: Adobe signs every delivery with the same
  Adobe-wide keys, so the signature proves only that Adobe sent it, not that it was sent
  to us (``check_recipient``).
The legacy ``x-adobe-signature`` (base64 HMAC-SHA256 of the body with the client secret)
is honoured only when a client secret is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from alertbridge.errors import ApiError, FieldProblem, unavailable

KEY_PATH = re.compile(r"^/[A-Za-z0-9_-]{1,32}/keys/pub-key-[A-Za-z0-9_-]{1,128}\.pem$")
FETCH_TIMEOUT_S = 3.0
MAX_KEYS = 64


def signature_error(description: str) -> ApiError:
    return ApiError(
        401,
        "invalid_signature",
        description,
        [
            FieldProblem(
                "x-adobe-digital-signature-1",
                "RSA-SHA256 over the body by Adobe's key",
                description,
            )
        ],
        headers={"WWW-Authenticate": 'AdobeSignature realm="alertbridge"'},
    )


class KeyFetchError(Exception):
    pass


Fetcher = Callable[[str], bytes]


def http_fetch(url: str) -> bytes:
    try:
        response = requests.get(url, timeout=FETCH_TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:
        raise KeyFetchError(f"{type(exc).__name__}") from None
    if response.status_code != 200:
        raise KeyFetchError(f"key host answered {response.status_code}")
    return response.content[:16384]


class PublicKeyCache:
    """Public keys by path, with a TTL and a bounded size; thread-safe."""

    def __init__(
        self,
        host: str,
        ttl_s: float,
        fetch: Fetcher = http_fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host.rstrip("/")
        self.ttl_s = ttl_s
        self._fetch = fetch
        self._clock = clock
        self._keys: OrderedDict[str, tuple[float, rsa.RSAPublicKey]] = OrderedDict()
        self._lock = threading.Lock()

    def earliest_expiry(self) -> float | None:
        with self._lock:
            return min((expires for expires, _ in self._keys.values()), default=None)

    def get(self, path: str) -> rsa.RSAPublicKey:
        if not KEY_PATH.match(path):
            raise signature_error("the public key path is not an Adobe key path")
        now = self._clock()
        with self._lock:
            cached = self._keys.get(path)
            if cached and cached[0] > now:
                self._keys.move_to_end(path)
                return cached[1]
        pem = self._fetch(self.host + path)
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            raise signature_error("the key host did not return a PEM public key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise signature_error("the public key is not an RSA key")
        with self._lock:
            self._keys[path] = (now + self.ttl_s, key)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        return key


def _verify_rsa(key: rsa.RSAPublicKey, signature_b64: str, body: bytes) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def verify(
    headers: Mapping[str, str], body: bytes, keys: PublicKeyCache, client_secret: str | None
) -> str:
    """Return which check passed ("digital" or "hmac"); raise 401 (or 503 when the key host
    cannot be reached, so Adobe retries) otherwise."""
    pairs = [
        (headers.get("x-adobe-digital-signature-1"), headers.get("x-adobe-public-key1-path")),
        (headers.get("x-adobe-digital-signature-2"), headers.get("x-adobe-public-key2-path")),
    ]
    present = [(sig, path) for sig, path in pairs if sig and path]
    unreachable = False
    for signature, path in present:
        assert signature is not None and path is not None
        try:
            key = keys.get(path)
        except KeyFetchError:
            unreachable = True
            continue
        if _verify_rsa(key, signature, body):
            return "digital"
    if not present and client_secret and headers.get("x-adobe-signature"):
        expected = base64.b64encode(
            hmac.new(client_secret.encode(), body, hashlib.sha256).digest()
        ).decode()
        if hmac.compare_digest(expected, headers.get("x-adobe-signature", "")):
            return "hmac"
        raise signature_error("x-adobe-signature does not match the body")
    if unreachable:
        raise unavailable("Adobe's public key host could not be reached; retry", retry_after=60)
    if not present:
        raise signature_error("missing x-adobe-digital-signature-1/-2 and public key paths")
    raise signature_error("no Adobe digital signature verifies over this body")


# Where Adobe names the recipient of an event: the JSON field its webhooks add to every
# event, and the same as a CloudEvents extension attribute (lower-case, no underscores).
RECIPIENT_FIELDS = ("recipient_client_id", "recipientclientid")
RECIPIENT_RULE = "must equal this webhook's client id (ALERTBRIDGE_ADOBE_CLIENT_ID)"


def _recipients(item: Any, path: str) -> list[tuple[str, Any]]:
    if not isinstance(item, dict):
        return []
    return [(f"{path}.{name}", item[name]) for name in RECIPIENT_FIELDS if name in item]


def _addressed_events(payload: Any) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """Each event of a delivery (as the ingress splits it) with the recipients that apply to
    it: its own and, for a ``{"messages": [...]}`` wrapper, the wrapper's."""
    items = payload if isinstance(payload, list) else [payload]
    for index, item in enumerate(items):
        path = f"body[{index}]" if isinstance(payload, list) else "body"
        outer = _recipients(item, path)
        messages = item.get("messages") if isinstance(item, dict) else None
        if isinstance(messages, list):
            for m_index, message in enumerate(messages):
                yield (
                    f"{path}.messages[{m_index}]",
                    outer + _recipients(message, f"{path}.messages[{m_index}]"),
                )
        else:
            yield path, outer


def check_recipient(payload: Any, client_id: str | None, allow_missing: bool) -> None:
    """Refuse (403) a delivery any event of which names another recipient, or names none
    unless the operator allowed that. Only the signed body counts: a header is not signed.
    No check without a configured client id (nothing to compare with)."""
    if not client_id:
        return
    for path, found in _addressed_events(payload):
        for field_path, value in found:
            if value != client_id:  # the client id is not a secret: no constant time needed
                raise ApiError(
                    403,
                    "wrong_recipient",
                    "the event is addressed to another Adobe client id; it was not sent to "
                    "this webhook",
                    [FieldProblem(field_path, RECIPIENT_RULE, "another client's event")],
                )
        if not found and not allow_missing:
            raise ApiError(
                403,
                "missing_recipient",
                "the event names no recipient client id, so nothing proves it was sent to "
                "this webhook",
                [
                    FieldProblem(
                        f"{path}.recipient_client_id",
                        "required, and " + RECIPIENT_RULE + ", unless "
                        "ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT is set",
                        "no recipient",
                    )
                ],
            )
