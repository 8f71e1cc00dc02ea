"""The HTTP layer: one router for every endpoint, one error shape, one log line per request.

Each deployed function serves its own routes through ``dispatch`` (Flask) or
``alertbridge.asgi.serve`` (uvicorn; both run the same ``Call``); the local stack serves all
of them on one port.

A handler answers a ``Reply``, or a ``Pending`` when the answer must wait for Pub/Sub to
confirm a publish: the handler's work is then done, and the wait is the server's — a
blocked thread under Flask, an awaited future on the event loop under ASGI.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from flask import Request, Response

from alertbridge import ops
from alertbridge.errors import ApiError, unavailable
from alertbridge.logs import get_logger
from alertbridge.pubsub import OutgoingMessage, PublishError
from alertbridge.runtime import Runtime, get_runtime
from alertbridge.sources import SourceSpec, specs

log = get_logger(__name__)


class Reply(NamedTuple):
    """What a handler answers: a JSON body (or plain text) with its status and headers."""

    status: int
    body: dict[str, Any] | list[Any] | str
    headers: Mapping[str, str] = MappingProxyType({})


NOT_CONFIRMED = "Pub/Sub did not confirm the publish; retry later"


@dataclass(frozen=True)
class Pending:
    """A reply that exists once Pub/Sub confirmed ``messages`` (all or nothing): ``answer``
    gets their ids. A publish that fails or times out is a 503 with Retry-After."""

    messages: Sequence[OutgoingMessage]
    answer: Callable[[list[str]], Reply]

    def wait(self, runtime: Runtime) -> Reply:
        try:
            ids = runtime.publisher.publish_and_wait(self.messages)
        except PublishError:
            raise unavailable(NOT_CONFIRMED) from None
        return self.answer(ids)

    async def wait_async(self, runtime: Runtime) -> Reply:
        try:
            ids = await runtime.publisher.publish_and_wait_async(self.messages)
        except PublishError:
            raise unavailable(NOT_CONFIRMED) from None
        return self.answer(ids)


def new_request_id() -> str:
    return uuid.uuid4().hex


Handler = Callable[[Runtime, Request, str], Reply | Pending]


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    handler: Handler
    source: str


def _token(runtime: Runtime, request: Request, request_id: str) -> Reply | Pending:
    from alertbridge.auth import endpoint

    return endpoint.handle(runtime, request, request_id)


def _lazy(spec: SourceSpec) -> Handler:
    """The source's handler, imported on its first request (cold starts stay small)."""

    def handle(runtime: Runtime, request: Request, request_id: str) -> Reply | Pending:
        handler: Handler = spec.load_handler()
        return handler(runtime, request, request_id)

    return handle


TOKEN_ROUTES: dict[str, Route] = {
    "/authn/v1/oauth2/token": Route(("POST",), _token, "token"),
}


def source_routes(spec: SourceSpec) -> dict[str, Route]:
    return {spec.path: Route(spec.methods, _lazy(spec), spec.name)}


def all_routes() -> dict[str, Route]:
    """Every HTTP route on one function: the local stack and small deployments."""
    routes = dict(TOKEN_ROUTES)
    for spec in specs():
        routes.update(source_routes(spec))
    return routes


def json_bytes(body: Any) -> bytes:
    """The compact JSON every answer body is sent as."""
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json_bytes(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


class Answer(NamedTuple):
    """What goes on the wire, whichever server sends it (Flask or uvicorn)."""

    status: int
    body: bytes
    headers: dict[str, str]

    def flask(self) -> Response:
        return Response(self.body, status=self.status, headers=self.headers)


def reply_answer(reply: Reply, request_id: str) -> Answer:
    if isinstance(reply.body, str):
        body, content_type = reply.body.encode(), "text/plain; charset=utf-8"
    else:
        body, content_type = json_bytes(reply.body), "application/json"
    return Answer(
        reply.status,
        body,
        {"Content-Type": content_type, **reply.headers, "X-Request-ID": request_id},
    )


def error_answer(exc: ApiError, request_id: str) -> Answer:
    headers = {"Content-Type": "application/json", **exc.headers}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    headers["X-Request-ID"] = request_id
    return Answer(exc.status, json_bytes(exc.body(request_id)), headers)


def error_response(exc: ApiError, request_id: str) -> Response:
    return error_answer(exc, request_id).flask()


OPS_PATHS = ("/health", "/metrics", "/metrics/prometheus")


def ops_response(
    request: Request, path: str, routes: Mapping[str, Route], runtime: Runtime
) -> Response:
    """/health, /metrics and /metrics/prometheus, on every function; never counted as queries."""
    if request.method != "GET":
        return error_response(
            ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed; use GET",
                headers={"Allow": "GET"},
            ),
            new_request_id(),
        )
    if path == "/metrics/prometheus":
        return Response(
            runtime.metrics.prometheus(), status=200, mimetype="text/plain; version=0.0.4"
        )
    if path == "/metrics":
        return json_response(200, runtime.metrics.snapshot())
    needs_pubsub = any(route.source != "token" for route in routes.values())
    status, body = ops.report(runtime, runtime.health, needs_pubsub)
    return json_response(status, body, {"Retry-After": "5"} if status == 503 else None)


# Sources whose handlers wait on the run-order store (a budgeted, blocking call): under ASGI
# they run on the thread pool, every other handler on the event loop.
BLOCKING_SOURCES = frozenset({"token", *(spec.name for spec in specs() if spec.run_ordered)})


class Call:
    """One request through a route: what ``dispatch`` (Flask) and ``asgi.serve`` share —
    the route and method checks, the error shape, the metrics and the one log line."""

    def __init__(
        self, request: Request, routes: Mapping[str, Route], runtime: Runtime | None = None
    ) -> None:
        self.request = request
        self.path = request.path.rstrip("/") or "/"
        self.started = time.perf_counter_ns()
        self.request_id = new_request_id()
        self.route = routes.get(self.path)
        self.source = self.route.source if self.route else "unknown"
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = get_runtime()
        return self._runtime

    @property
    def blocking(self) -> bool:
        """True when the handler may block (run it off the event loop)."""
        return self.route is None or self.source in BLOCKING_SOURCES

    def run(self) -> Reply | Pending:
        """The route's handler, after the checks every route shares."""
        route, request = self.route, self.request
        if route is None:
            raise ApiError(404, "not_found", f"no endpoint at {self.path}")
        if request.method not in route.methods:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed; use {', '.join(route.methods)}",
                headers={"Allow": ", ".join(route.methods)},
            )
        if route.source != "token":
            # health knows Pub/Sub before it is asked
            self.runtime.health.ensure_probe(self.runtime)
        return route.handler(self.runtime, request, self.request_id)

    def respond(self, reply: Reply) -> Answer:
        return reply_answer(reply, self.request_id)

    def fail(self, exc: BaseException) -> Answer:
        """The answer to what ``run`` or the wait raised: its own shape for an ApiError, a
        logged 500 for anything else (the body never quotes the exception)."""
        if isinstance(exc, ApiError):
            return error_answer(exc, self.request_id)
        log.error(
            "unhandled error",
            request_id=self.request_id,
            path=self.path,
            source=self.source,
            exc_info=exc,
        )
        return error_answer(
            ApiError(500, "server_error", "unexpected error; the request was not accepted"),
            self.request_id,
        )

    def end(self, answer: Answer) -> Answer:
        elapsed_ns = time.perf_counter_ns() - self.started
        if self.route is not None:
            with contextlib.suppress(Exception):  # metrics must never fail a request
                self.runtime.metrics.observe(self.source, answer.status, elapsed_ns)
        request = self.request
        log.info(
            "request",
            request_id=self.request_id,
            method=request.method,
            path=self.path,
            status=answer.status,
            source=self.source,
            tenant=request.headers.get("Tenant-ID"),
            latency_ms=round(elapsed_ns / 1e6, 3),
            trace=request.headers.get("X-Cloud-Trace-Context", "").split("/")[0] or None,
        )
        return answer


def dispatch(
    request: Request, routes: Mapping[str, Route], runtime: Runtime | None = None
) -> Response:
    path = request.path.rstrip("/") or "/"
    if path in OPS_PATHS:
        return ops_response(request, path, routes, runtime or get_runtime())
    call = Call(request, routes, runtime)
    try:
        outcome = call.run()
        reply = outcome.wait(call.runtime) if isinstance(outcome, Pending) else outcome
        answer = call.respond(reply)
    except Exception as exc:
        answer = call.fail(exc)
    return call.end(answer).flask()
