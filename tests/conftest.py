"""Shared fixtures: one real Pub/Sub emulator per test session, a fresh project per test.

Each test gets its own emulator project, so topics and subscriptions never leak
between tests. HTTP goes through functions-framework's own app, in-process (werkzeug
test client) or on a real loopback port.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from alertbridge import runtime as runtime_mod
from alertbridge.auth.tokens import Keyring
from alertbridge.pubsub import ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime
from alertbridge.settings import DEAD_LETTER_TOPIC, Settings
from alertbridge.state import FirestoreStore, StateStore
from alertbridge.tenants import Tenants, load_tenants
from alertbridge_dev.adobe_keys import KeyServer
from alertbridge_dev.capture import CaptureServer, capture_env
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TENANTS = ROOT / "config" / "tenants.example.yaml"
SEEDS = ROOT.parent / "shared" / "seeds"
CREDENTIALS = {
    "4242": ("acme-etl", "acme-demo-secret"),
    "5151": ("globex-etl", "globex-demo-secret"),
}


# Values that must never appear in a log line or an error body, whatever the test does.
SECRET_MARKERS = (
    "acme-demo-secret",
    "globex-demo-secret",
    "scrypt$",
    "adobe-secret",
    "BEGIN RSA PRIVATE KEY",
    "BEGIN PRIVATE KEY",
    "capture-routing-key",
    "capture-genie-key",
    "GenieKey ",
    "whsec_Y2FwdHVyZS13ZWJob29r",  # the capture server's signing secrets
)


@pytest.fixture(autouse=True)
def no_secrets_in_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Every structured log line written during every test is free of secrets: passwords,
    hashes, signing keys, bearer tokens (JWTs start with eyJ), Adobe and PagerDuty secrets."""
    yield
    out, err = capfd.readouterr()
    for line in (out + err).splitlines():
        if not line.startswith("{") or '"severity"' not in line:
            continue
        leaked = [m for m in SECRET_MARKERS if m in line]
        assert not leaked, f"secret {leaked} in log line: {line[:300]}"
        assert '"eyJ' not in line and " eyJ" not in line, f"token in log line: {line[:300]}"
        keyring = runtime_mod._current.keyring if runtime_mod._current else None
        for key in keyring.keys.values() if keyring else []:
            assert key.decode() not in line, "signing key in a log line"
    # let the captured output through for -s runs
    print(out, end="")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    host = os.environ.get("ALERTBRIDGE_TEST_EMULATOR_HOST")
    if host:  # reuse a running emulator (faster local iterations)
        emu = Emulator(port=int(host.rsplit(":", 1)[1]))
        yield emu
        return
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[Emulator]:
    """Started only when a test needs durable state (Adobe run order, notifier)."""
    host = os.environ.get("ALERTBRIDGE_TEST_FIRESTORE_HOST")
    if host:  # reuse a running emulator (faster local iterations)
        yield Emulator(kind="firestore", port=int(host.rsplit(":", 1)[1]))
        return
    emu = Emulator(kind="firestore").start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def state(runtime: Runtime, firestore_emulator: Emulator, project: str) -> Iterator[StateStore]:
    """A Firestore store on the emulator, in this test's own project, installed on runtime."""
    store = FirestoreStore(project, firestore_emulator.host)
    runtime.state = store
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def own_emulator() -> Iterator[Emulator]:
    """A Pub/Sub emulator of the test's own, for tests that stop or freeze it."""
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    """A local stand-in for Adobe's key host."""
    server = KeyServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tenants() -> Tenants:
    return load_tenants(EXAMPLE_TENANTS)


@pytest.fixture
def project() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def runtime(emulator: Emulator, project: str, tenants: Tenants) -> Iterator[Runtime]:
    provision(emulator.host, project, tenants)
    settings = Settings(project_id=project, publish_timeout_s=3.0)
    rt = Runtime(settings, tenants, Keyring.generate(), emulator.host)
    runtime_mod.set_runtime(rt)
    try:
        yield rt
    finally:
        runtime_mod.set_runtime(None)
        rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Any:
    import functions_framework

    return functions_framework.create_app(
        target="ingress", source=str(ROOT / "functions" / "main.py")
    )


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@dataclass
class Received:
    data: bytes
    attributes: dict[str, str]
    ordering_key: str = ""

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class TopicWatch:
    """A subscription created before the test acts, drained with a deadline."""

    subscriber: Any
    path: str
    received: list[Received] = field(default_factory=list)

    def pull(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived (or the deadline); ack them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self._pull_once()
        return list(self.received)

    def pull_until(
        self, done: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        """Pull until ``done(received so far)`` holds or the deadline passes (redeliveries
        make counting messages unreliable; wait on what they are instead)."""
        deadline = time.monotonic() + timeout
        while not done(self.received) and time.monotonic() < deadline:
            self._pull_once()
        return list(self.received)

    def quiet(self, settle: float = 1.5) -> list[Received]:
        """Everything that arrives within ``settle`` seconds: proves an absence."""
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            self._pull_once(timeout=0.3)
        return list(self.received)

    def _pull_once(self, timeout: float = 1.0) -> None:
        from google.api_core import exceptions as gexc

        try:
            response = self.subscriber.pull(
                request={"subscription": self.path, "max_messages": 100}, timeout=timeout
            )
        except gexc.DeadlineExceeded:
            return
        if not response.received_messages:
            time.sleep(0.05)
            return
        for item in response.received_messages:
            self.received.append(
                Received(
                    item.message.data, dict(item.message.attributes), item.message.ordering_key
                )
            )
        self.subscriber.acknowledge(
            request={
                "subscription": self.path,
                "ack_ids": [m.ack_id for m in response.received_messages],
            }
        )


@pytest.fixture
def watch(
    emulator: Emulator, project: str, runtime: Runtime
) -> Iterator[Callable[[str], TopicWatch]]:
    subscriber = make_subscriber_client(emulator.host)

    def make(topic: str) -> TopicWatch:
        name = f"watch-{topic}-{uuid.uuid4().hex[:6]}"
        return TopicWatch(subscriber, ensure_subscription(subscriber, project, name, topic))

    try:
        yield make
    finally:
        subscriber.close()


@pytest.fixture
def dead_letters(watch: Callable[[str], TopicWatch]) -> TopicWatch:
    return watch(DEAD_LETTER_TOPIC)


@pytest.fixture
def ingest(watch: Callable[[str], TopicWatch], runtime: Runtime) -> TopicWatch:
    return watch(runtime.settings.ingest_topic)


class UvicornResponse:
    """A ``requests`` response with the werkzeug test response's accessors the tests use."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status_code: int = response.status_code
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()

    def get_json(self) -> Any:
        return self._response.json()

    def get_data(self, as_text: bool = False) -> Any:
        return self._response.text if as_text else self._response.content


class UvicornClient:
    """Real HTTP to a uvicorn server, spoken like werkzeug's test client (``json=``,
    ``data=``, ``headers=``, ``content_type=``), so a test can run on both servers."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self.session = requests.Session()

    def open(self, method: str, path: str, **kwargs: Any) -> UvicornResponse:
        headers = dict(kwargs.pop("headers", None) or {})
        content_type = kwargs.pop("content_type", None)
        if content_type:
            headers["Content-Type"] = content_type
        data = kwargs.pop("data", None)
        if isinstance(data, str):
            data = data.encode()
        response = self.session.request(
            method, self.base_url + path, headers=headers, data=data, timeout=30, **kwargs
        )
        return UvicornResponse(response)

    def post(self, path: str, **kwargs: Any) -> UvicornResponse:
        return self.open("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> UvicornResponse:
        return self.open("GET", path, **kwargs)


@contextlib.contextmanager
def serving_ingress_asgi() -> Iterator[str]:
    """``ingress_asgi`` (every route, what the local stack serves; Terraform deploys its
    per-source twins) on a real uvicorn server on loopback, with the process's runtime."""
    import functions_framework
    import uvicorn

    from alertbridge_dev.emulator import free_port

    app = functions_framework.create_app(
        target="ingress_asgi", source=str(ROOT / "functions" / "main.py")
    )
    port = free_port()
    from alertbridge.asgi import KEEP_ALIVE_S

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=KEEP_ALIVE_S,  # as functions-framework serves it (main.py)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn-test")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def uvicorn_server(runtime: Runtime) -> Iterator[str]:
    """``serving_ingress_asgi`` sharing the test's runtime."""
    with serving_ingress_asgi() as url:
        yield url


@pytest.fixture
def uvicorn_client(uvicorn_server: str) -> UvicornClient:
    return UvicornClient(uvicorn_server)


def token_for(client: Any, tenant: str = "4242") -> str:
    username, secret = CREDENTIALS[tenant]
    response = client.post(
        "/authn/v1/oauth2/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": secret,
            "scope": "openid",
            "client_id": "liveramp-api",
            "response_type": "token",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access_token"])


def subtask_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": "job-123",
        "pipeId": 7,
        "stepId": 2,
        "operationId": 3,
        "gitVersion": "v1.0.0",
        "timestamp": "2026-11-25 01:02:03",
        "stepCode": 4,
        "msgCode": 99,
        "tenantId": 4242,
        "envId": 1,
        "placeholder1": 1,
        "placeholder2": 2,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


class FakeClock:
    """A wall clock (``runtime.clock``) that moves only when the test says so."""

    def __init__(self, start: datetime = datetime(2026, 11, 25, tzinfo=UTC)) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, by: float | timedelta) -> None:
        self.now += by.total_seconds() if isinstance(by, timedelta) else by

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
def clock(runtime: Runtime) -> FakeClock:
    fake = FakeClock()
    runtime.clock = fake
    return fake


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A capture server speaking every destination's protocol (PagerDuty, Slack, Teams,
    Opsgenie, Standard Webhooks)."""
    server = CaptureServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def destinations(
    capture: CaptureServer, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> CaptureServer:
    """The capture server, and the environment that points the test's tenants at it."""
    for key, value in capture_env(capture.url, tenants).items():
        monkeypatch.setenv(key, value)
    return capture
