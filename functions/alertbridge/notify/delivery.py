"""HTTP delivery honouring the receivers' contracts: short timeouts; 429 and 5xx retried
with exponential backoff and full jitter (Retry-After respected); other 4xx never retried.
An optional deadline bounds the whole delivery, retries included, so the notifier ends
before the push subscription's ack deadline makes Pub/Sub redeliver the message."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

RETRYABLE = frozenset({429, 500, 502, 503, 504})
_session: requests.Session | None = None
_session_lock = threading.Lock()


def environment_rules(environ: Mapping[str, str]) -> bool:
    """Whether requests must read the environment on each request: only when it names a
    proxy (requests decides per URL, honouring ``NO_PROXY``), exactly as ``requests.post``."""
    return any(
        value and name.lower().endswith("_proxy") and name.lower() != "no_proxy"
        for name, value in environ.items()
    )  # what urllib.request.getproxies_environment reads


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The CA bundle requests would take from the environment (same variables, same order):
    set once on the session instead of read from the environment on every request."""
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or None


def default_session() -> requests.Session:
    """One pooled session per process: keep-alive to the receivers (no TCP and TLS handshake
    per page) and, unless a proxy is configured, no look into the environment per request
    (``requests.post`` did both every time: the post was a third of the notifier's CPU in a
    profile; with a CA bundle named in the environment the per-request lookup — proxies,
    ``NO_PROXY``, ``~/.netrc`` — was still a fifth)."""
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            session.trust_env = environment_rules(os.environ)
            bundle = ca_bundle(os.environ)
            if bundle and not session.trust_env:
                session.verify = bundle
            _session = session
        return _session


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 8.0
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Result:
    ok: bool
    status: int | None
    attempts: int
    detail: str

    @property
    def rejected(self) -> bool:
        """Refused for what was sent (4xx other than 429): retrying cannot help."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


def post_json(
    url: str,
    body: Mapping[str, Any] | bytes,
    backoff: Backoff,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    headers: Mapping[str, str] | None = None,
) -> Result:
    """``deadline`` is a ``monotonic()`` instant: no attempt starts or waits past it.
    ``body`` as bytes is posted as is (a signature over it stays valid), with ``headers``."""
    http = session or default_session()
    if isinstance(body, bytes):
        send: dict[str, Any] = {
            "data": body,
            "headers": {"Content-Type": "application/json", **(headers or {})},
        }
    else:
        send = {"json": body, "headers": dict(headers or {})}
    status: int | None = None
    detail = ""
    for attempt in range(1, backoff.attempts + 1):
        timeout = backoff.timeout_s
        if deadline is not None:
            remaining = deadline - monotonic()
            if remaining <= 0:
                return Result(False, status, attempt - 1, f"total budget spent; last: {detail}")
            timeout = min(timeout, remaining)
        try:
            response = http.post(url, timeout=timeout, **send)
        except requests.RequestException as exc:
            status, detail, retry_after = None, type(exc).__name__, None
        else:
            status, detail = response.status_code, response.text[:300]
            if 200 <= status < 300:
                return Result(True, status, attempt, detail)
            if status not in RETRYABLE:
                return Result(False, status, attempt, detail)
            retry_after = _seconds(response.headers.get("Retry-After"))
        if attempt == backoff.attempts:
            break
        delay = rand() * min(backoff.cap_s, backoff.base_s * 2 ** (attempt - 1))  # full jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, backoff.cap_s))
        if deadline is not None and monotonic() + delay >= deadline:
            return Result(False, status, attempt, f"total budget spent; last: {detail}")
        sleep(delay)
    return Result(False, status, backoff.attempts, detail)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
