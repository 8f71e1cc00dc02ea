"""``POST /authn/v1/oauth2/token``: OAuth2 password grant as in seed 000.

Also ``grant_type=client_credentials`` with HTTP Basic (RFC 6749 §4.4, §2.3.1).
Errors follow RFC 6749 §5.2. This module never imports the Pub/Sub client, so the
token function starts as fast as a no-op function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress

from flask import Request

from alertbridge.auth.passwords import verify_secret
from alertbridge.auth.tokens import issue_token
from alertbridge.bodies import media_type, parse_form, read_body, unsupported
from alertbridge.errors import ApiError, FieldProblem, unavailable
from alertbridge.http import Reply
from alertbridge.runtime import Runtime

PATH = "/authn/v1/oauth2/token"
FORM = "application/x-www-form-urlencoded"
DEFAULT_SCOPE = "liveramp-api"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(status: int, error: str, description: str, field: str | None = None) -> ApiError:
    details = [FieldProblem(field, error, description)] if field else []
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="alertbridge"'
    return ApiError(status, error, description, details, headers=headers)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _error(401, "invalid_client", "malformed HTTP Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise _error(401, "invalid_client", "malformed HTTP Basic credentials")
    return username, password


# Brute-force protection: 5 wrong secrets per account, then one more every 12 s; 30 attempts
# per client address, then one per second. Both are charged before scrypt runs, so a flood
# costs no hashing and concurrent guesses cannot all pass a check that a failure updates
# only later; a login that succeeds gets its account token back.
USER_FAILURE_BURST, USER_FAILURES_PER_S = 5.0, 1 / 12
CLIENT_BURST, CLIENT_PER_S = 30.0, 1.0


def client_address(request: Request, trusted_hops: int) -> str:
    """The address the outermost trusted proxy saw: the ``trusted_hops``-th
    X-Forwarded-For entry from the right (each proxy appends the peer it saw; anything to
    the left of that was written by the client). With no proxy trusted, or fewer entries
    than trusted proxies (the request did not come through them), the socket peer.
    Same rule as werkzeug's ``ProxyFix(x_for=trusted_hops)``."""
    peer = request.remote_addr or "unknown"
    if trusted_hops < 1:
        return peer
    header = ",".join(request.headers.getlist("X-Forwarded-For"))
    entries = [entry.strip() for entry in header.split(",")] if header else []
    if len(entries) < trusted_hops:
        return peer
    return entries[-trusted_hops] or peer


def client_key(address: str) -> str:
    """The bucket key of a client address: IPv6 per /64 (one subscriber's allocation, so
    rotating through it earns no new budget), IPv4 and IPv4-mapped IPv6 per address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "login-client:" + hashlib.sha256(address.encode()).hexdigest()  # bounded size
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return f"login-client:{ipaddress.IPv6Network((ip, 64), strict=False)}"
        ip = ip.ipv4_mapped
    return f"login-client:{ip}"


def account_key(username: str, known: bool) -> str:
    """Known accounts and unknown usernames are separate kinds of bucket, so spraying made-up
    names cannot evict a real account's counter; unknown names are hashed (bounded size)."""
    if known:
        return f"login-account:{username}"
    return "login-unknown:" + hashlib.sha256(username.encode()).hexdigest()


def throttle(runtime: Runtime, request: Request, key: str) -> None:
    """Charge the client address, then the account; 429 if either is spent."""
    client = client_address(request, runtime.settings.trusted_proxy_hops)
    wait = runtime.limits.take(client_key(client), CLIENT_PER_S, CLIENT_BURST)
    if wait is None:
        wait = runtime.limits.take(key, USER_FAILURES_PER_S, USER_FAILURE_BURST)
    if wait is not None:
        raise ApiError(
            429,
            "slow_down",
            "too many token requests; retry later",
            [FieldProblem("username", "rate limit", "too many attempts")],
            retry_after=wait,
            headers=dict(NO_STORE),
        )


def handle(runtime: Runtime, request: Request, request_id: str) -> Reply:
    body = read_body(request, 16 * 1024)
    if media_type(request.content_type) != FORM:
        raise unsupported(request.content_type, [FORM])
    form = parse_form(body)
    grant = form.get("grant_type")
    if not grant:
        raise _error(400, "invalid_request", "grant_type is required", "grant_type")
    basic = _basic_credentials(request)
    if grant == "password":
        username, password = form.get("username"), form.get("password")
        if not username or password is None:
            missing = "username" if not username else "password"
            raise _error(400, "invalid_request", f"{missing} is required", missing)
        failure = _error(400, "invalid_grant", "the username or password is wrong")
    elif grant == "client_credentials":
        if basic is not None:
            username, password = basic
        else:
            username, password = form.get("client_id"), form.get("client_secret")
        if not username or password is None:
            raise _error(401, "invalid_client", "client credentials are required (HTTP Basic)")
        failure = _error(401, "invalid_client", "the client id or secret is wrong")
    else:
        raise _error(
            400,
            "unsupported_grant_type",
            "grant_type must be password or client_credentials",
            "grant_type",
        )
    if runtime.keyring is None:
        raise unavailable("token signing keys are not configured")
    found = runtime.accounts.account(username)
    key = account_key(username, found is not None)
    throttle(runtime, request, key)
    if not verify_secret(password, found[0].password_hash if found else None) or found is None:
        raise failure
    runtime.limits.give_back(key, USER_FAILURES_PER_S, USER_FAILURE_BURST)
    token, ttl = issue_token(runtime.keyring, username, found[1], now=runtime.clock())
    scope = (
        form.get("client_id") if grant == "password" and form.get("client_id") else DEFAULT_SCOPE
    )
    reply = {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
    return Reply(200, reply, NO_STORE)
