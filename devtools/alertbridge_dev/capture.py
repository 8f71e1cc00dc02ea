"""A local stand-in for PagerDuty Events v2 and Slack incoming webhooks.

``POST /v2/enqueue`` validates like Events v2 (202 ``{"status": "success", "message":
"Event processed", "dedup_key": …}``, 400 ``{"status": "invalid event", "message": …,
"errors": […]}``); ``POST /slack/<name>`` answers ``ok`` like a webhook (400
``invalid_payload`` without text or blocks). It records every request, and answers can be
scripted (``script("/v2/enqueue", [429, 202])``) to exercise retries and refusals.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alertbridge.tenants import Tenant

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass(frozen=True)
class Captured:
    path: str
    body: Any
    status: int


def validate_event(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["Event object is invalid"]
    errors = []
    if not body.get("routing_key"):
        errors.append("'routing_key' is missing or blank")
    if body.get("event_action") not in ACTIONS:
        errors.append("'event_action' is invalid")
    if body.get("event_action") in ("acknowledge", "resolve") and not body.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    if body.get("event_action") == "trigger":
        payload = body.get("payload") or {}
        for key in ("summary", "source", "severity"):
            if not payload.get(key):
                errors.append(f"'payload.{key}' is missing or blank")
        if payload.get("severity") and payload["severity"] not in SEVERITIES:
            errors.append("'payload.severity' is invalid")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' is too long")
    return errors


class CaptureServer:
    def __init__(self, on_request: Callable[[Captured], None] | None = None) -> None:
        self.requests: list[Captured] = []
        self._on_request = on_request
        self._scripts: dict[str, deque[int]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, reply, ctype = server._answer(self.path, raw)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> CaptureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, path_prefix: str, statuses: list[int]) -> None:
        with self._lock:
            self._scripts[path_prefix].extend(statuses)

    def _answer(self, path: str, raw: bytes) -> tuple[int, bytes, str]:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            scripted = next(
                (q.popleft() for p, q in self._scripts.items() if path.startswith(p) and q), None
            )
        if path.startswith("/v2/enqueue"):
            errors = validate_event(body)
            status = scripted or (400 if errors else 202)
            if status == 202:
                reply = {
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": body.get("dedup_key") if isinstance(body, dict) else None,
                }
            elif status == 400:
                reply = {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": errors or ["rejected"],
                }
            else:
                reply = {"status": "error", "message": "try again"}
            out = (status, json.dumps(reply).encode(), "application/json")
        else:
            ok = isinstance(body, dict) and (body.get("text") or body.get("blocks"))
            status = scripted or (200 if ok else 400)
            out = (status, b"ok" if status == 200 else b"invalid_payload", "text/plain")
        captured = Captured(path, body, out[0])
        with self._changed:
            self.requests.append(captured)
            self._changed.notify_all()
        if self._on_request is not None:
            self._on_request(captured)
        return out

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Captured]:
        """Wait until ``count`` requests were recorded (or the deadline); return them."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)


def capture_env(capture_url: str, tenants: Iterable[Tenant]) -> dict[str, str]:
    """Environment that points every tenant's destinations at a capture server."""
    env = {
        "ALERTBRIDGE_PAGERDUTY_URL": f"{capture_url}/v2/enqueue",
        "ALERTBRIDGE_NOTIFY_BACKOFF_BASE": "0.05",
    }
    for tenant in tenants:
        if tenant.notify.pagerduty is not None:
            env[tenant.notify.pagerduty.routing_key_env] = f"capture-routing-key-{tenant.id}"
        if tenant.notify.slack is not None:
            env[tenant.notify.slack.webhook_url_env] = f"{capture_url}/slack/{tenant.id}"
    return env


def describe(captured: Captured) -> str:
    body = captured.body if isinstance(captured.body, dict) else {}
    if captured.path.startswith("/v2/enqueue"):
        summary = (body.get("payload") or {}).get("summary", "")
        return (
            f"PagerDuty {body.get('event_action')} dedup_key={body.get('dedup_key')} "
            f"-> {captured.status} {summary[:90]}"
        )
    return f"Slack {captured.path} -> {captured.status} {str(body.get('text', ''))[:110]}"
