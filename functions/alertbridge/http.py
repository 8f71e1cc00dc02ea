"""The HTTP layer: one router for every endpoint, one error shape, one log line per request.

Each deployed function serves its own routes through ``dispatch``; the local stack
serves all of them on one port.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from flask import Request, Response

from alertbridge import ops
from alertbridge.errors import ApiError
from alertbridge.logs import get_logger
from alertbridge.runtime import Runtime, get_runtime
from alertbridge.sources import SourceSpec, specs

log = get_logger(__name__)


class Reply(NamedTuple):
    """What a handler answers: a JSON body (or plain text) with its status and headers."""

    status: int
    body: dict[str, Any] | list[Any] | str
    headers: Mapping[str, str] = MappingProxyType({})


def new_request_id() -> str:
    return uuid.uuid4().hex


Handler = Callable[[Runtime, Request, str], Reply]


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    handler: Handler
    source: str


def _token(runtime: Runtime, request: Request, request_id: str) -> Reply:
    from alertbridge.auth import endpoint

    return endpoint.handle(runtime, request, request_id)


def _lazy(spec: SourceSpec) -> Handler:
    """The source's handler, imported on its first request (cold starts stay small)."""

    def handle(runtime: Runtime, request: Request, request_id: str) -> Reply:
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


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(exc: ApiError, request_id: str) -> Response:
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    headers["X-Request-ID"] = request_id
    return json_response(exc.status, exc.body(request_id), headers)


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


def dispatch(
    request: Request, routes: Mapping[str, Route], runtime: Runtime | None = None
) -> Response:
    path = request.path.rstrip("/") or "/"
    if path in OPS_PATHS:
        return ops_response(request, path, routes, runtime or get_runtime())
    started = time.perf_counter_ns()
    request_id = new_request_id()
    route = routes.get(path)
    source = route.source if route else "unknown"
    try:
        if route is None:
            raise ApiError(404, "not_found", f"no endpoint at {path}")
        if request.method not in route.methods:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed; use {', '.join(route.methods)}",
                headers={"Allow": ", ".join(route.methods)},
            )
        runtime = runtime or get_runtime()
        if route.source != "token":
            runtime.health.ensure_probe(runtime)  # health knows Pub/Sub before it is asked
        reply = route.handler(runtime, request, request_id)
        if isinstance(reply.body, str):
            response = Response(reply.body, status=reply.status, mimetype="text/plain")
            for key, value in reply.headers.items():
                response.headers[key] = value
        else:
            response = json_response(reply.status, reply.body, reply.headers)
        response.headers["X-Request-ID"] = request_id
    except ApiError as exc:
        response = error_response(exc, request_id)
    except Exception:
        log.exception("unhandled error", request_id=request_id, path=path, source=source)
        response = error_response(
            ApiError(500, "server_error", "unexpected error; the request was not accepted"),
            request_id,
        )
    elapsed_ns = time.perf_counter_ns() - started
    if route is not None:
        with contextlib.suppress(Exception):  # metrics must never fail a request
            (runtime or get_runtime()).metrics.observe(source, response.status_code, elapsed_ns)
    log.info(
        "request",
        request_id=request_id,
        method=request.method,
        path=path,
        status=response.status_code,
        source=source,
        tenant=request.headers.get("Tenant-ID"),
        latency_ms=round(elapsed_ns / 1e6, 3),
        trace=request.headers.get("X-Cloud-Trace-Context", "").split("/")[0] or None,
    )
    return response
