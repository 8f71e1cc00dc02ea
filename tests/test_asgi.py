"""The uvicorn twins (functions/alertbridge/asgi.py, what Terraform deploys): a sender sees
exactly what the Flask functions answer, a body streamed past the limit is refused without
being read, Pub/Sub down is a 503, and a publish waiting for its confirmation does not hold
the event loop. (Every source's inline and slow paths run on both servers in test_inline.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alertbridge import runtime as runtime_mod
from alertbridge.auth.tokens import Keyring
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.tenants import Tenants
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import Emulator
from conftest import (
    ROOT,
    TopicWatch,
    UvicornClient,
    serving_ingress_asgi,
    subtask_body,
    token_for,
)

SUBTASK = "/analytics-environment/v1/job-pub-sub-messages"
CIH = "/informatica/v1/events"
CIH_EVENT = json.loads(
    (ROOT / "functions/alertbridge/sources/informatica/samples/events.json").read_text()
)[0]["event"]
# What differs between two answers to the same request by design: fresh ids and tokens.
VOLATILE = ("request_id", "message_id", "message_ids", "access_token")


def comparable(response: Any) -> tuple[int, str, Any, dict[str, str]]:
    try:
        body = response.get_json()
    except Exception:
        body = response.get_data(as_text=True)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    headers = {
        k: response.headers[k]
        for k in ("Allow", "Retry-After", "WWW-Authenticate", "Cache-Control")
        if k in response.headers
    }
    return response.status_code, response.mimetype, body, headers


def requests_of_every_kind(token: str, other_token: str) -> list[tuple[str, str, dict[str, Any]]]:
    auth = {"Tenant-ID": "4242", "Authorization": f"Bearer {token}"}
    return [
        ("POST", SUBTASK, {"json": subtask_body(), "headers": auth}),
        (
            "POST",
            SUBTASK,
            {
                "data": "jobId=job-form&pipeId=7",
                "headers": auth,
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        ("POST", SUBTASK, {"json": subtask_body(msgCode=999), "headers": auth}),
        ("POST", SUBTASK, {"json": subtask_body(), "headers": {"Tenant-ID": "4242"}}),
        ("POST", SUBTASK, {"json": subtask_body(), "headers": {**auth, "Tenant-ID": "5151"}}),
        (
            "POST",
            SUBTASK,
            {
                "json": subtask_body(),
                "headers": {**auth, "Authorization": f"Bearer {other_token}x"},
            },
        ),
        ("POST", SUBTASK, {"data": b"{nope", "headers": auth, "content_type": "application/json"}),
        (
            "POST",
            SUBTASK,
            {"data": b"x" * 300_000, "headers": auth, "content_type": "application/json"},
        ),
        ("GET", SUBTASK, {"headers": auth}),
        ("POST", "/no/such/endpoint", {"json": {}, "headers": auth}),
        ("POST", CIH, {"json": CIH_EVENT, "headers": auth}),
        ("POST", CIH, {"json": {"not": "an event"}, "headers": auth}),
        (
            "POST",
            "/authn/v1/oauth2/token",
            {"data": {"grant_type": "password", "username": "acme-etl", "password": "no"}},
        ),
        ("GET", "/health", {}),
    ]


def test_a_sender_gets_the_same_answer_from_uvicorn_as_from_flask(
    client: Any, uvicorn_client: UvicornClient, state: Any
) -> None:
    token, other = token_for(client), token_for(client, "5151")
    for method, path, kwargs in requests_of_every_kind(token, other):
        flask_answer = comparable(client.open(path, method=method, **kwargs))
        uvicorn_answer = comparable(uvicorn_client.open(method, path, **kwargs))
        assert uvicorn_answer == flask_answer, (method, path)


def test_the_uvicorn_answer_carries_its_request_id_and_a_subtask_alert_lands_once(
    uvicorn_client: UvicornClient, client: Any, watch: Any, ingest: TopicWatch
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(client)}"}
    response = uvicorn_client.post(SUBTASK, json=subtask_body(), headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["X-Request-ID"] == body["request_id"]
    (raw,) = ingest.pull(1)
    assert raw.attributes["request_id"] == body["request_id"]
    (alert,) = acme.pull(1)
    assert alert.json()["request_id"] == body["request_id"]
    assert acme.quiet(1.0) == [alert] and len(ingest.quiet(0.5)) == 1


def test_a_body_streamed_past_the_limit_is_refused_without_reading_it_all(
    uvicorn_server: str, client: Any, runtime: Runtime, ingest: TopicWatch
) -> None:
    """No Content-Length (chunked): the server reads up to the limit and one byte more."""
    import requests

    limit = runtime.settings.max_body_bytes
    sent = [0]

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB offered, far past the limit
            sent[0] += 65536
            yield b" " * 65536

    headers = {
        "Tenant-ID": "4242",
        "Authorization": f"Bearer {token_for(client)}",
        "Content-Type": "application/json",
    }
    response = requests.post(uvicorn_server + SUBTASK, data=chunks(), headers=headers, timeout=30)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    assert ingest.quiet(1.0) == []
    assert limit < 4 * 1024 * 1024


def test_pubsub_down_is_a_503_and_the_event_loop_keeps_answering_meanwhile(
    own_emulator: Emulator, tenants: Tenants
) -> None:
    """A publish waiting on a dead Pub/Sub must not hold the loop: other requests (here a
    refused body, answered on the loop, and a token, from the pool) answer at once."""
    project = "asgi-outage"
    provision(own_emulator.host, project, tenants)
    rt = Runtime(
        Settings(project_id=project, publish_timeout_s=3.0),
        tenants,
        Keyring.generate(),
        own_emulator.host,
    )
    runtime_mod.set_runtime(rt)
    try:
        with serving_ingress_asgi() as url:
            outage_answers_503_without_holding_the_loop(url, own_emulator)
    finally:
        runtime_mod.set_runtime(None)
        rt.close()


def outage_answers_503_without_holding_the_loop(url: str, pubsub: Emulator) -> None:
    http = UvicornClient(url)
    headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(http)}"}
    assert http.post(SUBTASK, json=subtask_body(), headers=headers).status_code == 202

    pubsub.stop()
    outcome: dict[str, Any] = {}

    def stuck_post() -> None:
        started = time.monotonic()
        outcome["response"] = http.post(
            SUBTASK, json=subtask_body(jobId="job-during-outage"), headers=headers
        )
        outcome["elapsed"] = time.monotonic() - started

    waiting = threading.Thread(target=stuck_post)
    waiting.start()
    # while that publish waits for a confirmation that cannot come:
    other = UvicornClient(url)
    started = time.monotonic()
    refused = other.post(SUBTASK, json=subtask_body(msgCode=999), headers=headers)
    token = other.post(
        "/authn/v1/oauth2/token",
        data={"grant_type": "password", "username": "acme-etl", "password": "no"},
    )
    answered_in = time.monotonic() - started
    assert (refused.status_code, token.status_code) == (400, 400)
    assert waiting.is_alive(), "the stuck publish should still be waiting"
    assert answered_in < 1.0, f"the loop was held {answered_in:.2f} s"
    waiting.join(timeout=15)
    response = outcome["response"]
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"] == "unavailable"
    assert outcome["elapsed"] < 3.0 + 3.0


@pytest.mark.parametrize("path", ["/health", "/metrics", "/metrics/prometheus"])
def test_the_ops_paths_answer_on_uvicorn(uvicorn_client: UvicornClient, path: str) -> None:
    response = uvicorn_client.get(path)
    if path == "/health":  # 503 until the first Pub/Sub probe reports (status "starting")
        report = response.get_json()
        assert report["checks"]["tenants"] == {"ok": True, "count": 2}
        assert response.status_code == (200 if report["status"] == "ok" else 503)
    else:
        assert response.status_code == 200, response.get_data(as_text=True)
    assert uvicorn_client.post(path).status_code == 405
