"""One hop (issue 16): every source normalised in the ingress, and the slow path through
the normaliser when the ingress cannot — adapter failure, run-order store down or slow —
end to end on the Pub/Sub and Firestore emulators."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest

from alertbridge import http
from alertbridge import sources as registry
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.inline import ATTRIBUTE, INLINE, SLOW_PATH_FILTER, gate
from alertbridge.pipeline.normalize import handle_cloud_event, handle_message
from alertbridge.runtime import Runtime
from alertbridge.sources.dbt_cloud import SPEC as DBT
from alertbridge.state import FirestoreStore, StateStore, Update
from alertbridge_dev.adobe_keys import KeyServer, SigningKey, signed_headers
from alertbridge_dev.emulator import Emulator
from alertbridge_dev.worker import NORMALIZE_SUBSCRIPTION, NormalizeWorker
from conftest import ROOT, Received, TopicWatch, subtask_body, token_for
from test_dbt_cloud_ingress import ACME_SECRET, ERRORED, GLOBEX_SECRET, sign

ADOBE = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)
CIH = json.loads(
    (ROOT / "functions/alertbridge/sources/informatica/samples/events.json").read_text()
)
ADOBE_CLIENT_ID = "alertbridge-demo-client"
SOURCES = {
    "subtask": "liveramp.subtask",
    "informatica": "informatica.cih",
    "adobe": "adobe.flow_run",
    "dbt_cloud": "dbt_cloud.job_run",
}
ORDERED = ["informatica", "adobe", "dbt_cloud"]

Send = Callable[[], Any]


@pytest.fixture
def normaliser_queue(emulator: Emulator, project: str, runtime: Runtime) -> Iterator[TopicWatch]:
    """What Pub/Sub delivers to the normaliser: its subscription as provisioned (filtered)."""
    from alertbridge.pubsub import make_subscriber_client

    subscriber = make_subscriber_client(emulator.host)
    try:
        yield TopicWatch(subscriber, f"projects/{project}/subscriptions/{NORMALIZE_SUBSCRIPTION}")
    finally:
        subscriber.close()


SERVERS = ["flask", "uvicorn"]


@pytest.fixture
def server() -> str:
    """Flask unless a test is parametrized over ``SERVERS`` (both paths for every source and
    the run-order fall-back run on both)."""
    return "flask"


@pytest.fixture
def send(
    request: pytest.FixtureRequest,
    server: str,
    runtime: Runtime,
    client: Any,
    key_server: KeyServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], Any]:
    """POST one failure of ``source`` through its real endpoint; returns the response. On
    ``server`` "flask" through werkzeug's test client, on "uvicorn" over real HTTP to
    ``ingress_asgi`` (the publish awaited on the event loop)."""
    if server == "uvicorn":
        client = request.getfixturevalue("uvicorn_client")
    runtime.settings = dataclasses.replace(
        runtime.settings, adobe_key_host=key_server.url, adobe_client_id=ADOBE_CLIENT_ID
    )
    monkeypatch.setenv("ACME_DBT_WEBHOOK_SECRET", ACME_SECRET)
    monkeypatch.setenv("GLOBEX_DBT_WEBHOOK_SECRET", GLOBEX_SECRET)
    key = key_server.publish(SigningKey())
    dbt = flask.Flask(__name__)
    routes = http.source_routes(DBT)

    @dbt.route("/<path:path>", methods=["POST"])
    def serve(path: str) -> flask.Response:
        return http.dispatch(flask.request, routes, runtime)

    def post(source: str) -> Any:
        if source == "subtask":
            headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(client)}"}
            return client.post(
                "/analytics-environment/v1/job-pub-sub-messages",
                json=subtask_body(),
                headers=headers,
            )
        if source == "informatica":
            headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(client)}"}
            return client.post("/informatica/v1/events", json=CIH[0]["event"], headers=headers)
        if source == "adobe":
            body = json.dumps(ADOBE["failure"]).encode()
            return client.post(
                "/adobe/v1/flow-run-notifications", data=body, headers=signed_headers(body, key)
            )
        headers = {"Content-Type": "application/json", "Authorization": sign(ERRORED)}
        if server == "uvicorn":
            return client.post(DBT.path, data=ERRORED, headers=headers)
        return dbt.test_client().post(DBT.path, data=ERRORED, headers=headers)

    return post


def pushed(message: Received) -> dict[str, Any]:
    """A delivery as the normaliser's push subscription sends it (the CloudEvent data)."""
    data = base64.b64encode(message.data).decode()
    return {"message": {"data": data, "attributes": message.attributes, "messageId": "m-1"}}


def accepted(response: Any) -> None:
    assert response.status_code in (200, 202), response.get_data(as_text=True)


def firing(landed: list[Any], source: str) -> list[dict[str, Any]]:
    alerts = [m.json() for m in landed]
    assert alerts and all(a["source"] == SOURCES[source] for a in alerts), alerts
    return [a for a in alerts if a["status"] == "firing"]


# ---- the inline path ------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("source", list(SOURCES))
def test_inline_alert_reaches_the_tenant_topic_raw_is_marked_and_the_normaliser_gets_nothing(
    source: str,
    send: Callable[[str], Any],
    runtime: Runtime,
    ingest: TopicWatch,
    watch: Any,
    normaliser_queue: TopicWatch,
    state: StateStore,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    accepted(send(source))
    # confirmed before the answer: already on both topics, no normaliser running
    (raw,) = ingest.pull(1)
    assert raw.attributes[ATTRIBUTE] == INLINE
    assert raw.attributes["source"] == SOURCES[source]
    assert len(firing(acme.pull(1), source)) == 1
    # The normaliser's subscription filters it out. The emulator ignores filters and
    # delivers it anyway: the normaliser's entry point then publishes nothing.
    subscription = normaliser_queue.subscriber.get_subscription(subscription=normaliser_queue.path)
    assert subscription.filter == SLOW_PATH_FILTER == "NOT attributes:normalized"
    for delivered in normaliser_queue.pull(1):
        assert handle_cloud_event(runtime, pushed(delivered)).alerts == []
    ids = [m.json()["id"] for m in acme.quiet(1.0)]
    assert len(ids) == len(set(ids))  # each alert once
    # a replay of the raw copy through the normaliser gives the same alert ids
    replayed = handle_message(runtime, raw.data, raw.attributes)
    assert {a.id for a in replayed.alerts} == set(ids)


def test_with_the_normaliser_running_an_inline_alert_is_published_once(
    send: Callable[[str], Any], runtime: Runtime, watch: Any, state: StateStore
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    worker = NormalizeWorker(runtime, threads=2).start()
    try:
        accepted(send("subtask"))
        accepted(send("adobe"))
        assert len(acme.pull(2)) == 2
        assert len(acme.quiet(2.0)) == 2  # the normaliser acknowledged both raw copies unread
    finally:
        worker.stop()


# ---- the slow path --------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("source", list(SOURCES))
def test_an_adapter_failure_goes_raw_unmarked_and_the_normaliser_lands_the_alert(
    source: str,
    send: Callable[[str], Any],
    runtime: Runtime,
    watch: Any,
    normaliser_queue: TopicWatch,
    state: StateStore,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    real = registry.adapter_for(SOURCES[source])
    assert real is not None
    calls: list[int] = []

    def flaky(envelope: IngestEnvelope, tenants: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("adapter bug on the first call")
        return real(envelope, tenants)

    registry.register(SOURCES[source], flaky)
    try:
        accepted(send(source))
        assert acme.quiet(1.0) == []  # nothing normalised inline
        (raw,) = normaliser_queue.pull(1)
        assert ATTRIBUTE not in raw.attributes
        handle_message(runtime, raw.data, raw.attributes)
    finally:
        registry.unregister(SOURCES[source])
    assert len(firing(acme.pull(1), source)) == 1
    assert runtime.metrics._counters["inline_fallbacks"][("failed",)] == 1


def test_an_unroutable_event_goes_raw_unmarked_and_is_dead_lettered_with_its_reason(
    send: Callable[[str], Any],
    runtime: Runtime,
    key_server: KeyServer,
    client: Any,
    normaliser_queue: TopicWatch,
    dead_letters: TopicWatch,
    state: StateStore,
) -> None:
    key = key_server.publish(SigningKey())
    body = json.dumps(ADOBE["failure"]).replace("ACME0000", "NOBODY00").encode()
    response = client.post(
        "/adobe/v1/flow-run-notifications", data=body, headers=signed_headers(body, key)
    )
    accepted(response)  # a 4xx would get Adobe's registration disabled
    (raw,) = normaliser_queue.pull(1)
    assert ATTRIBUTE not in raw.attributes
    outcome = handle_message(runtime, raw.data, raw.attributes, "m-1")
    assert outcome.dead_letter_reason == "unroutable"
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "unroutable"


class RaisingStore:
    """A state store that is down: every call raises, and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, collection: str, key: str) -> Any:
        self.calls += 1
        raise ConnectionError("state store unreachable")

    def update(self, collection: str, key: str, fn: Update) -> Any:
        self.calls += 1
        raise ConnectionError("state store unreachable")

    def update_together(self, changes: Any) -> Any:
        self.calls += 1
        raise ConnectionError("state store unreachable")

    def find(self, collection: str, field: str, value: Any) -> list[Any]:
        raise ConnectionError("state store unreachable")


class HangingStore(RaisingStore):
    """A state store that answers nothing until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def update(self, collection: str, key: str, fn: Update) -> Any:
        self.calls += 1
        self.release.wait(30)
        raise ConnectionError("released")

    def update_together(self, changes: Any) -> Any:
        return self.update("", "", lambda current: None)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("source", ORDERED)
@pytest.mark.parametrize(
    ("server", "down"),
    [("flask", "raises"), ("flask", "hangs"), ("flask", "closed-port"), ("uvicorn", "hangs")],
)
def test_state_store_down_or_slow_falls_back_to_the_slow_path_within_the_budget(
    source: str,
    down: str,
    send: Callable[[str], Any],
    runtime: Runtime,
    ingest: TopicWatch,
    watch: Any,
    normaliser_queue: TopicWatch,
    state: StateStore,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    runtime.settings = dataclasses.replace(runtime.settings, inline_state_budget_s=0.5)
    working = runtime.state
    broken: Any
    if down == "raises":
        broken = RaisingStore()
    elif down == "hangs":
        broken = HangingStore()
    else:  # a Firestore client pointed at a port nobody listens on
        import os

        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", os.environ["FIRESTORE_EMULATOR_HOST"])
        broken = FirestoreStore(project, f"127.0.0.1:{closed_port()}")
    runtime.state = broken
    try:
        started = time.monotonic()
        accepted(send(source))
        assert time.monotonic() - started < 0.5 + 1.5  # the budget, not the store's timeout
        (raw,) = ingest.pull(1)
        assert ATTRIBUTE not in raw.attributes
        assert acme.quiet(1.0) == []
        (queued,) = normaliser_queue.pull(1)
        assert queued.data == raw.data
    finally:
        if isinstance(broken, HangingStore):
            broken.release.set()
    runtime.state = working  # the normaliser's store is up: it retries and lands the alert
    handle_message(runtime, queued.data, queued.attributes)
    assert len(firing(acme.pull(1), source)) == 1
    assert runtime.metrics._counters["inline_fallbacks"][("state",)] == 1


def test_after_a_store_failure_the_ingress_leaves_the_store_alone_for_the_cooldown(
    send: Callable[[str], Any],
    runtime: Runtime,
    ingest: TopicWatch,
    watch: Any,
    state: StateStore,
) -> None:
    now = [1_000_000.0]
    runtime.clock = lambda: now[0]
    broken = RaisingStore()
    runtime.state = broken
    accepted(send("adobe"))
    assert broken.calls == 1
    accepted(send("adobe"))  # within the cooldown: straight to the slow path
    assert broken.calls == 1
    now[0] += gate(runtime).cooldown_s + 0.1
    runtime.state = state
    accepted(send("adobe"))  # the store is tried again, and works
    marks = [m.attributes.get(ATTRIBUTE) for m in ingest.pull(3)]
    assert sorted(marks, key=str) == [None, None, INLINE]


def test_bad_subtask_input_is_a_400_and_publishes_nothing_anywhere(
    client: Any, runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(client)}"}
    response = client.post(
        "/analytics-environment/v1/job-pub-sub-messages",
        json=subtask_body(stepCode="x"),
        headers=headers,
    )
    assert response.status_code == 400
    assert ingest.quiet(1.0) == [] and acme.quiet(0.5) == []


def test_the_one_hop_can_be_turned_off_and_then_everything_takes_the_slow_path(
    send: Callable[[str], Any],
    runtime: Runtime,
    ingest: TopicWatch,
    watch: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alertbridge.settings import Settings

    monkeypatch.setenv("ALERTBRIDGE_INLINE_NORMALIZE", "0")
    monkeypatch.setenv("ALERTBRIDGE_INLINE_STATE_BUDGET", "0.25")
    configured = Settings.from_env()
    assert (configured.inline_normalize, configured.inline_state_budget_s) == (False, 0.25)
    acme: TopicWatch = watch("alerts-4242")
    runtime.settings = dataclasses.replace(runtime.settings, inline_normalize=False)
    accepted(send("subtask"))
    (raw,) = ingest.pull(1)
    assert ATTRIBUTE not in raw.attributes
    assert acme.quiet(1.0) == []
