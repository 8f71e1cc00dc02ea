"""The sender's side: fetch a token, refresh it before ``expires_in`` runs out, post.

``alertbridge send`` wraps this; pipeline scripts can import it::

    from alertbridge_dev.client import SubTaskClient
    client = SubTaskClient("https://…", "acme-etl", secret, tenant_id="4242")
    client.send({"jobId": "job-1", ...})
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

TOKEN_PATH = "/authn/v1/oauth2/token"  # noqa: S105 - a path, not a secret
SUBTASK_PATH = "/analytics-environment/v1/job-pub-sub-messages"
REFRESH_MARGIN_S = 60.0
RETRYABLE = {429, 500, 502, 503, 504}


class SendError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class SubTaskClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        tenant_id: str,
        *,
        token_url: str | None = None,
        client_id: str = "liveramp-api",
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url or self.base_url + TOKEN_PATH
        self.username = username
        self._password = password
        self.tenant_id = str(tenant_id)
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.session = session or requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SubTaskClient({self.base_url!r}, username={self.username!r}, "
            f"tenant={self.tenant_id!r})"
        )

    def token(self, force: bool = False) -> str:
        """A valid access token, fetched again when it is within a minute of expiring."""
        with self._lock:
            if force or self._token is None or time.time() >= self._expires_at - REFRESH_MARGIN_S:
                response = self.session.post(
                    self.token_url,
                    data={
                        "grant_type": "password",
                        "username": self.username,
                        "password": self._password,
                        "scope": "openid",
                        "client_id": self.client_id,
                        "response_type": "token",
                    },
                    timeout=self.timeout_s,
                )
                if response.status_code != 200:
                    raise SendError(response.status_code, _body(response))
                payload = response.json()
                self._token = str(payload["access_token"])
                self._expires_at = time.time() + float(payload.get("expires_in", 1800))
            return self._token

    def send(self, message: dict[str, Any], path: str = SUBTASK_PATH) -> dict[str, Any]:
        """POST a message; refresh the token once on 401, honour Retry-After on 429/5xx."""
        refreshed = False
        for attempt in range(1, self.max_attempts + 1):
            response = self.session.post(
                self.base_url + path,
                json=message,
                headers={
                    "Tenant-ID": self.tenant_id,
                    "Authorization": f"Bearer {self.token(force=refreshed and attempt == 2)}",
                },
                timeout=self.timeout_s,
            )
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.token(force=True)
                continue
            if response.status_code in RETRYABLE and attempt < self.max_attempts:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise SendError(response.status_code, _body(response))
            result: dict[str, Any] = response.json()
            return result
        raise SendError(0, "gave up after retries")


def _retry_after(response: requests.Response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        seconds = float(header)
    except ValueError:
        seconds = 0.5 * 2 ** (attempt - 1)
    return min(seconds, 30.0)


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
