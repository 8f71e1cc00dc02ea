"""Cloud Functions (2nd gen) entry points. Thin: each hands its request to the package.

Deploy one function per entry point (see terraform/); the local stack serves
``ingress`` (every HTTP route on one port) and runs ``normalize`` from a subscriber.
Each registered source gets an HTTP entry point of its own, named by its spec.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import functions_framework
from cloudevents.http import CloudEvent
from flask import Request, Response

from alertbridge import http
from alertbridge.sources import SourceSpec, specs

if TYPE_CHECKING:
    from starlette.requests import Request as AsgiRequest
    from starlette.responses import Response as AsgiResponse

# The ASGI twins need starlette (~57 ms of import). The token function never serves them and
# its cold start is a goal, so they are left out when the runtime starts `token` (Cloud
# Functions sets FUNCTION_TARGET to the entry point; unset, everything is defined).
SERVES_ASGI = os.environ.get("FUNCTION_TARGET") != "token"


@functions_framework.http
def token(request: Request) -> Response:
    """POST /authn/v1/oauth2/token"""
    return http.dispatch(request, http.TOKEN_ROUTES)


@functions_framework.http
def ingress(request: Request) -> Response:
    """Every HTTP route on one function: the local stack and small deployments."""
    return http.dispatch(request, http.all_routes())


def _source_function(spec: SourceSpec) -> Callable[[Request], Response]:
    routes = http.source_routes(spec)

    def serve(request: Request) -> Response:
        return http.dispatch(request, routes)

    serve.__name__ = serve.__qualname__ = spec.function
    serve.__doc__ = f"{'|'.join(spec.methods)} {spec.path}: {spec.description}"
    return serve


# One HTTP function per registered source (alertbridge.sources.PACKAGES), named by its
# spec: `subtask`, `adobe`, `informatica`, ...
for _spec in specs():
    globals()[_spec.function] = functions_framework.http(_source_function(_spec))


def _asgi_function(
    name: str, routes: dict[str, http.Route], doc: str
) -> Callable[[AsgiRequest], Awaitable[AsgiResponse]]:
    from alertbridge import asgi

    async def serve(request: AsgiRequest) -> AsgiResponse:
        return await asgi.serve(request.scope, request.receive, routes)

    serve.__name__ = serve.__qualname__ = name
    serve.__doc__ = doc
    return serve


if SERVES_ASGI:
    import functions_framework.aio

    from alertbridge import asgi

    asgi.keep_idle_connections()

    # The same routes on uvicorn, the publish awaited on the event loop (alertbridge/asgi.py):
    # `ingress_asgi` is what the local stack serves; `subtask_asgi`, `adobe_asgi`, ... what
    # Terraform deploys.
    ingress_asgi = functions_framework.aio.http(
        _asgi_function("ingress_asgi", http.all_routes(), "``ingress`` on uvicorn")
    )
    for _spec in specs():
        _name = f"{_spec.function}_asgi"
        globals()[_name] = functions_framework.aio.http(
            _asgi_function(_name, http.source_routes(_spec), f"``{_spec.function}`` on uvicorn")
        )


@functions_framework.cloud_event
def notify(event: CloudEvent) -> None:
    """Push subscription per tenant topic (ordered by dedup_key): PagerDuty and Slack."""
    from alertbridge.notify.handler import handle_alert
    from alertbridge.runtime import get_runtime

    message = event.data["message"]
    handle_alert(
        get_runtime(),
        base64.b64decode(message.get("data", "")),
        message.get("attributes") or {},
        message.get("messageId"),
    )


@functions_framework.cloud_event
def poll_cih(event: CloudEvent) -> None:
    """Cloud Scheduler → Pub/Sub tick: read recent CIH events for tenants that poll."""
    from alertbridge.runtime import get_runtime
    from alertbridge.sources.informatica.poller import poll_all

    poll_all(get_runtime())


@functions_framework.cloud_event
def normalize(event: CloudEvent) -> None:
    """Pub/Sub (Eventarc) trigger on alertbridge-ingest."""
    from flask import request

    from alertbridge.pipeline.normalize import handle_cloud_event
    from alertbridge.runtime import get_runtime

    # a raw Pub/Sub push converted to a CloudEvent loses its deliveryAttempt: read the body
    handle_cloud_event(get_runtime(), event.data, request.get_json(silent=True))


@functions_framework.cloud_event
def sweep(event: CloudEvent) -> None:
    """Cloud Scheduler → Pub/Sub tick (alertbridge-tick): resolve incidents quiet for
    their tenant's auto_resolve time, send what ended silences held, update storms."""
    from alertbridge.notify.tick import tick
    from alertbridge.runtime import get_runtime

    tick(get_runtime())


@functions_framework.cloud_event
def check_expectations(event: CloudEvent) -> None:
    """Cloud Scheduler → Pub/Sub tick (alertbridge-tick): a firing alert for each expected
    run that is later than its grace (tenants file ``expectations``)."""
    from alertbridge.expectations.check import check
    from alertbridge.runtime import get_runtime

    check(get_runtime())
