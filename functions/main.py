"""Cloud Functions (2nd gen) entry points. Thin: each hands its request to the package.

Deploy one function per entry point (see terraform/); the local stack serves
``ingress`` (every HTTP route on one port) and runs ``normalize`` from a subscriber.
"""

from __future__ import annotations

import base64

import functions_framework
from cloudevents.http import CloudEvent
from flask import Request, Response

from alertbridge import http


@functions_framework.http
def token(request: Request) -> Response:
    """POST /authn/v1/oauth2/token"""
    return http.dispatch(request, http.TOKEN_ROUTES)


@functions_framework.http
def subtask(request: Request) -> Response:
    """POST /analytics-environment/v1/job-pub-sub-messages"""
    return http.dispatch(request, http.SUBTASK_ROUTES)


@functions_framework.http
def informatica(request: Request) -> Response:
    """POST /informatica/v1/events"""
    return http.dispatch(request, http.INFORMATICA_ROUTES)


@functions_framework.http
def adobe(request: Request) -> Response:
    """GET|POST /adobe/v1/flow-run-notifications (Adobe I/O Events webhook)"""
    return http.dispatch(request, http.ADOBE_ROUTES)


@functions_framework.http
def ingress(request: Request) -> Response:
    """Every HTTP route on one function: the local stack and small deployments."""
    return http.dispatch(request, http.ALL_ROUTES)


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
    from alertbridge.sources.informatica.poller import poll_all
    from alertbridge.runtime import get_runtime

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
    their tenant's auto_resolve time."""
    from alertbridge.notify.autoresolve import sweep as sweep_quiet
    from alertbridge.runtime import get_runtime

    sweep_quiet(get_runtime())
