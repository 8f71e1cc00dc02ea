"""A local stand-in for PagerDuty Events v2, Slack and Teams webhooks, Opsgenie and a
Standard Webhooks receiver.

``POST /v2/enqueue`` validates like Events v2 (202 ``{"status": "success", "message":
"Event processed", "dedup_key": …}``, 400 ``{"status": "invalid event", "message": …,
"errors": […]}``); ``POST /slack/<name>`` answers ``ok`` like a webhook (400
``invalid_payload`` without text or blocks); ``POST /teams/<name>`` answers 202 with no
body like a Workflows webhook when given a message with an Adaptive Card (400 otherwise);
``POST /v2/alerts`` and ``/v2/alerts/<alias>/close?identifierType=alias`` answer like
Opsgenie (401 without ``GenieKey``, 422 naming the bad field, 202 ``{"result": "Request
will be processed", "requestId": …}``); ``POST /webhook/<tenant>`` verifies the Standard
Webhooks signature with the reference library and the secret ``capture_env`` gave that
tenant (401 when it does not verify, 204 when it does). It records every request, and
answers can be scripted (``script("/v2/enqueue", [429, 202])``) to exercise retries and
refusals.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from standardwebhooks import Webhook, WebhookVerificationError

from alertbridge.tenants import Tenant

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class Captured:
    path: str
    body: Any
    status: int
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    raw: bytes = field(default=b"", repr=False)


def capture_webhook_secret(tenant_id: str) -> str:
    """The ``whsec_`` secret the capture server expects for ``/webhook/<tenant_id>``: fixed
    per tenant, so the env ``capture_env`` builds and the server agree without sharing."""
    return "whsec_" + base64.b64encode(f"capture-webhook-key-{tenant_id}".encode()).decode()


def validate_opsgenie(path: str, body: Any) -> list[str]:
    """Opsgenie's create rules (message 1-130 chars, alias ≤ 512, priority P1-P5)."""
    if not isinstance(body, dict):
        return ["Request body is not a JSON object"]
    if path.rstrip("/") != "/v2/alerts":
        return []  # close takes an optional user/source/note
    errors = []
    if not body.get("message"):
        errors.append("message: Message can not be empty.")
    elif len(str(body["message"])) > 130:
        errors.append("message: Message can not be longer than 130 characters.")
    if len(str(body.get("alias", ""))) > 512:
        errors.append("alias: Alias can not be longer than 512 characters.")
    if "priority" in body and body["priority"] not in PRIORITIES:
        errors.append("priority: Priority should be one of [P1, P2, P3, P4, P5]")
    if not all(isinstance(v, str) for v in (body.get("details") or {}).values()):
        errors.append("details: values must be strings")
    return errors


def valid_teams_message(body: Any) -> bool:
    """A Workflows webhook posts ``attachments[].content`` cards of type AdaptiveCard."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return False
    attachments = body.get("attachments")
    return (
        isinstance(attachments, list)
        and bool(attachments)
        and all(
            isinstance(a, dict)
            and a.get("contentType") == ADAPTIVE_CARD
            and isinstance(a.get("content"), dict)
            and a["content"].get("type") == "AdaptiveCard"
            and isinstance(a["content"].get("body"), list)
            for a in attachments
        )
    )


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


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 drops the SYNs of a burst of new senders


class CaptureServer:
    def __init__(self, on_request: Callable[[Captured], None] | None = None) -> None:
        self.requests: list[Captured] = []
        self._on_request = on_request
        self._scripts: dict[str, deque[int]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            # keep-alive, as the real receivers serve (HTTP/1.0 made every post a new TCP
            # connection, and a burst of them overflowed the listen queue into 1 s SYN retries)
            protocol_version = "HTTP/1.1"
            # the reply's headers and body are two writes: with Nagle on, the body waits for
            # the ACK of the headers, which the sender delays 40 ms (every page took >= 40 ms)
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply, ctype = server._answer(self.path, raw, headers)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(reply)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                return

        self._httpd = _Server(("127.0.0.1", 0), Handler)
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

    def _answer(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
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
        elif path.startswith("/v2/alerts"):
            out = _opsgenie(path, body, headers, scripted)
        elif path.startswith("/teams/"):
            status = scripted or (202 if valid_teams_message(body) else 400)
            reply_bytes = b"" if status == 202 else b"Bad Request: not an Adaptive Card message"
            out = (status, reply_bytes, "text/plain")
        elif path.startswith("/webhook/"):
            tenant_id = path.removeprefix("/webhook/").split("/")[0]
            try:
                Webhook(capture_webhook_secret(tenant_id)).verify(raw, headers)
            except (WebhookVerificationError, ValueError) as exc:
                out = (401, f"signature: {exc}".encode(), "text/plain")
            else:
                out = (scripted or 204, b"", "text/plain")
        else:
            ok = isinstance(body, dict) and (body.get("text") or body.get("blocks"))
            status = scripted or (200 if ok else 400)
            out = (status, b"ok" if status == 200 else b"invalid_payload", "text/plain")
        captured = Captured(path, body, out[0], headers, raw)
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


def _opsgenie(
    path: str, body: Any, headers: dict[str, str], scripted: int | None
) -> tuple[int, bytes, str]:
    if not headers.get("authorization", "").startswith("GenieKey ") or len(
        headers["authorization"]
    ) <= len("GenieKey "):
        reply: dict[str, Any] = {"message": "Could not authenticate", "took": 0.0}
        return 401, json.dumps(reply).encode(), "application/json"
    parts = urlsplit(path)
    if parts.path.endswith("/close") and "identifierType=alias" not in parts.query:
        errors = ["identifierType: expected alias"]
    else:
        errors = validate_opsgenie(parts.path, body)
    status = scripted or (422 if errors else 202)
    if status == 202:
        reply = {
            "result": "Request will be processed",
            "took": 0.01,
            "requestId": str(uuid.uuid4()),
        }
    elif status == 422:
        reply = {"message": "; ".join(errors) or "Invalid request", "took": 0.0}
    else:
        reply = {"message": "try again", "took": 0.0}
    return status, json.dumps(reply).encode(), "application/json"


def opsgenie_alias(captured: Captured) -> str | None:
    """The alias a captured close request names (its path), or a create carries (its body)."""
    parts = urlsplit(captured.path).path.split("/")
    if parts[-1] == "close":
        return unquote(parts[-2])
    return captured.body.get("alias") if isinstance(captured.body, dict) else None


def capture_env(capture_url: str, tenants: Iterable[Tenant]) -> dict[str, str]:
    """Environment that points every tenant's destinations at a capture server."""
    env = {
        "ALERTBRIDGE_PAGERDUTY_URL": f"{capture_url}/v2/enqueue",
        "ALERTBRIDGE_OPSGENIE_URL": capture_url,
        "ALERTBRIDGE_NOTIFY_BACKOFF_BASE": "0.05",
    }
    for tenant in tenants:
        if tenant.notify.pagerduty is not None:
            env[tenant.notify.pagerduty.routing_key_env] = f"capture-routing-key-{tenant.id}"
        if tenant.notify.slack is not None:
            env[tenant.notify.slack.webhook_url_env] = f"{capture_url}/slack/{tenant.id}"
        if tenant.notify.teams is not None:
            env[tenant.notify.teams.webhook_url_env] = f"{capture_url}/teams/{tenant.id}"
        if tenant.notify.opsgenie is not None:
            env[tenant.notify.opsgenie.api_key_env] = f"capture-genie-key-{tenant.id}"
        if tenant.notify.webhook is not None:
            env[tenant.notify.webhook.url_env] = f"{capture_url}/webhook/{tenant.id}"
            env[tenant.notify.webhook.secret_env] = capture_webhook_secret(tenant.id)
    return env


def describe(captured: Captured) -> str:
    body = captured.body if isinstance(captured.body, dict) else {}
    if captured.path.startswith("/v2/enqueue"):
        summary = (body.get("payload") or {}).get("summary", "")
        return (
            f"PagerDuty {body.get('event_action')} dedup_key={body.get('dedup_key')} "
            f"-> {captured.status} {summary[:90]}"
        )
    if captured.path.startswith("/v2/alerts"):
        if urlsplit(captured.path).path.endswith("/close"):
            return f"Opsgenie close alias={opsgenie_alias(captured)} -> {captured.status}"
        return (
            f"Opsgenie create alias={body.get('alias')} priority={body.get('priority')} "
            f"-> {captured.status} {str(body.get('message', ''))[:90]}"
        )
    if captured.path.startswith("/teams/"):
        card = ((body.get("attachments") or [{}])[0].get("content") or {}).get("body") or [{}]
        return f"Teams {captured.path} -> {captured.status} {str(card[0].get('text', ''))[:110]}"
    if captured.path.startswith("/webhook/"):
        return (
            f"Webhook {captured.path} {body.get('type')} "
            f"id={captured.headers.get('webhook-id')} -> {captured.status} (signature "
            f"{'verified' if captured.status < 300 else 'refused'})"
        )
    return f"Slack {captured.path} -> {captured.status} {str(body.get('text', ''))[:110]}"
