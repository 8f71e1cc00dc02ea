"""``alertbridge dev``: the whole stack on the Pub/Sub emulator, on one machine.

A supervisor for three children, as in production: the emulator, the HTTP
functions (functions-framework serving ``main.ingress``) and the normaliser worker.
Topics and subscriptions come from the tenants file, as Terraform creates them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from alertbridge.auth.tokens import Keyring
from alertbridge.pipeline.envelope import SLOW_PATH_FILTER
from alertbridge.pubsub import (
    ensure_subscription,
    ensure_topics,
    make_publisher_client,
    make_subscriber_client,
)
from alertbridge.settings import DEAD_LETTER_TOPIC, DEFAULT_PROJECT, INGEST_TOPIC
from alertbridge.tenants import Tenants, load_tenants
from alertbridge_dev.emulator import Emulator, wait_until
from alertbridge_dev.worker import (
    NORMALIZE_SUBSCRIPTION,
    NOTIFY_ACK_DEADLINE_S,
    notify_subscription,
)

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent.parent / "functions"
STATE_FILE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alertbridge" / "dev.json"
)
DEAD_LETTER_SUBSCRIPTION = "alertbridge-dead-letter-inspect"


def functions_framework_argv(
    port: int,
    target: str = "ingress_asgi",
    source: Path = FUNCTIONS_DIR / "main.py",
    python: str = sys.executable,
) -> list[str]:
    """The command that serves ``target`` as Cloud Functions does: functions-framework in a
    process of its own, on loopback."""
    return [
        python,
        "-m",
        "functions_framework",
        "--target",
        target,
        "--source",
        str(source),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def provision(emulator_host: str, project: str, tenants: Tenants) -> None:
    """Create the topics and subscriptions the tenants file implies (idempotent)."""
    publisher = make_publisher_client(emulator_host, ordering=False)
    subscriber = make_subscriber_client(emulator_host)
    try:
        # ingest and dead letters keep 7 days, as in Terraform, so they can be replayed by seek
        ensure_topics(publisher, project, [INGEST_TOPIC, DEAD_LETTER_TOPIC], retention_s=7 * 86400)
        ensure_topics(publisher, project, [t.topic_name for t in tenants])
        ensure_subscription(
            subscriber,
            project,
            NORMALIZE_SUBSCRIPTION,
            INGEST_TOPIC,
            ack_deadline_s=60,
            filter_=SLOW_PATH_FILTER,  # what the ingress normalised inline is not redone
        )
        ensure_subscription(subscriber, project, DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_TOPIC)
        for tenant in tenants:
            if tenant.notify.configured or tenant.expectations:
                ensure_subscription(
                    subscriber,
                    project,
                    notify_subscription(tenant.id),
                    tenant.topic_name,
                    ordering=True,
                    ack_deadline_s=NOTIFY_ACK_DEADLINE_S,
                )
    finally:
        subscriber.close()
        publisher.stop()


def _http_ready(base_url: str) -> bool:
    try:
        urllib.request.urlopen(base_url + "/", timeout=1)  # noqa: S310 - loopback only
    except urllib.error.HTTPError:
        return True  # 404 JSON from the router: it is serving
    except (urllib.error.URLError, OSError):
        return False
    return True


@dataclass
class DevStack:
    config: Path
    port: int = 8080
    project: str = DEFAULT_PROJECT
    emulator_host: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    firestore_host: str | None = None
    _emulator: Emulator | None = None
    _firestore: Emulator | None = None
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tenants: Tenants | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        assert self.emulator_host is not None
        keyring = Keyring.generate()
        return {
            **os.environ,
            "PUBSUB_EMULATOR_HOST": self.emulator_host,
            **({"FIRESTORE_EMULATOR_HOST": self.firestore_host} if self.firestore_host else {}),
            "ALERTBRIDGE_PROJECT": self.project,
            "ALERTBRIDGE_TENANTS_FILE": str(self.config.resolve()),
            "ALERTBRIDGE_JWT_KEYS": json.dumps(
                {kid: key.decode() for kid, key in keyring.keys.items()}
            ),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def start(self, log_dir: Path | None = None) -> DevStack:
        self.tenants = load_tenants(self.config)  # fail fast, before starting anything
        if self.emulator_host is None:
            self.emulator_host = os.environ.get("PUBSUB_EMULATOR_HOST")
        if self.emulator_host is None:
            self._emulator = Emulator(project=self.project).start()
            self.emulator_host = self._emulator.host
        if self.firestore_host is None:
            self.firestore_host = os.environ.get("FIRESTORE_EMULATOR_HOST")
        if self.firestore_host is None:
            self._firestore = Emulator(project=self.project, kind="firestore").start()
            self.firestore_host = self._firestore.host
        provision(self.emulator_host, self.project, self.tenants)
        env = self.env()
        log_dir = log_dir or Path(tempfile.gettempdir()) / "alertbridge-dev"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(functions_framework_argv(self.port), env, log_dir / "http.log")
        self._spawn(
            [sys.executable, "-m", "alertbridge_dev.cli", "worker"], env, log_dir / "normalize.log"
        )
        if any(t.notify.configured or t.expectations for t in self.tenants):
            self._spawn(
                [sys.executable, "-m", "alertbridge_dev.cli", "worker", "--role", "notify"],
                env,
                log_dir / "notify.log",
            )
        if not wait_until(lambda: _http_ready(self.base_url), 60, 0.1):
            self.stop()
            raise RuntimeError(f"the HTTP functions did not come up; see {log_dir / 'http.log'}")
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(
            json.dumps(
                {
                    "emulator_host": self.emulator_host,
                    "firestore_host": self.firestore_host,
                    "project": self.project,
                    "base_url": self.base_url,
                    "config": str(self.config.resolve()),
                    "pid": os.getpid(),
                }
            )
        )
        return self

    def _spawn(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        log = log_path.open("ab")
        self._children.append(
            subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        for child in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self._children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self._children.clear()
        for emulator in (self._emulator, self._firestore):
            if emulator is not None:
                emulator.stop()
        self._emulator = self._firestore = None
        try:
            if json.loads(STATE_FILE.read_text()).get("pid") == os.getpid():
                STATE_FILE.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def read_state() -> dict[str, str] | None:
    try:
        state: dict[str, str] = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return None
    return state
