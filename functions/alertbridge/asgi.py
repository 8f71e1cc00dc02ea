"""The same routes on functions-framework's ASGI server (uvicorn), waiting on the event loop.

Measured on this box (wrk, 16 connections, the emulator): under gunicorn's threaded worker
(Flask) a sub-task POST cost ~3.1 ms of the function's CPU, most of it not the handler but
threads handing the GIL around while each blocks on its Pub/Sub confirmation; serving the
same handler from a thread pool under uvicorn changed nothing. What changed it is who waits:
here the handler runs on the event loop and returns an ``http.Pending``, and the loop
*awaits* the confirmation while it serves the next request (~2.0 ms per POST, ~1.5x the
requests). Handlers that may block (run order's budgeted store calls, the token endpoint's
scrypt) and the ops paths run on a small thread pool instead; their publish is awaited on the
loop all the same.

The handlers stay what they are (synchronous, tested through Flask too): this module reads
the body on the loop — at most the body limit plus one byte, nothing when the declared length
is already over it — and rebuilds the request as a WSGI environ (PEP 3333), so a handler sees
the ``flask.Request`` it always sees; ``http.Call`` gives the checks, errors, metrics and log
line ``http.dispatch`` gives.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Request
from starlette.responses import Response

from alertbridge import http
from alertbridge.runtime import get_runtime

_pool: ThreadPoolExecutor | None = None

# How long an idle keep-alive connection stays open. functions-framework's uvicorn worker
# inherits gunicorn's default, 2 s, which races senders that pool connections: uvicorn's event
# loop runs its timers before it reads sockets, so a request written while the loop was busy,
# just as that connection's timer came due, is closed unread and the sender gets a reset
# (7 of 1,000 paced POSTs at 100 req/s in the PagerDuty bench row, with the box saturated).
# A pooled connection idle this long while its sender is busy is rare; after a real pause the
# server's close has long been seen and the sender's pool opens a new connection.
KEEP_ALIVE_S = 75


def keep_idle_connections(seconds: int = KEEP_ALIVE_S) -> None:
    """Serve keep-alive connections for ``seconds`` of idleness under functions-framework.

    Its ``UvicornApplication`` takes no keep-alive option and reads no gunicorn settings from
    the environment; the worker class merges its ``CONFIG_KWARGS`` over gunicorn's settings
    when the arbiter creates it, after the source module (main.py) was imported."""
    from uvicorn_worker import UvicornWorker

    UvicornWorker.CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "timeout_keep_alive": seconds}


def pool() -> ThreadPoolExecutor:
    """One pool per process for blocking handlers, as wide as gunicorn's threaded worker
    would be (functions-framework's THREADS, default 4 per core)."""
    global _pool
    if _pool is None:
        threads = int(os.environ.get("THREADS") or (os.cpu_count() or 1) * 4)
        _pool = ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="asgi")
    return _pool


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_bounded(receive: Any, limit: int) -> bytes:
    """The request body, but never more than ``limit`` + 1 bytes of it: enough for the
    handler to see that it is too large (413) without buffering what a sender streams."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk[: limit + 1 - size])
            size += len(chunks[-1])
        if size > limit or not message.get("more_body", False):
            break
    return b"".join(chunks)


def wsgi_environ(scope: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """The WSGI environ a WSGI server would have built for this request (PEP 3333)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]) if server[1] is not None else "80",
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        # the body is buffered whole (or cut past the limit): a chunked one reads to its end,
        # as under gunicorn, instead of as empty for want of a Content-Length
        "wsgi.input_terminated": True,
    }
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def serve(
    scope: Mapping[str, Any], receive: Any, routes: Mapping[str, http.Route]
) -> Response:
    """Answer one request through ``routes``, as ``http.dispatch`` would."""
    limit = get_runtime().settings.max_body_bytes
    declared = declared_length(scope.get("headers", []))
    # Over the limit by its own account: not read at all (the handler answers 413 on the
    # header alone, as under Flask).
    body = b"" if declared is not None and declared > limit else await read_bounded(receive, limit)
    request = Request(wsgi_environ(scope, body))
    loop = asyncio.get_running_loop()
    path = request.path.rstrip("/") or "/"
    if path in http.OPS_PATHS:
        ops = await loop.run_in_executor(pool(), http.dispatch, request, routes)
        return Response(
            content=ops.get_data(),
            status_code=ops.status_code,
            headers={k: v for k, v in ops.headers.items() if k.lower() != "content-length"},
        )
    call = http.Call(request, routes)
    try:
        outcome = await loop.run_in_executor(pool(), call.run) if call.blocking else call.run()
        if isinstance(outcome, http.Pending):
            outcome = await outcome.wait_async(call.runtime)
        answer = call.respond(outcome)
    except Exception as exc:
        answer = call.fail(exc)
    answer = call.end(answer)
    return Response(content=answer.body, status_code=answer.status, headers=answer.headers)
