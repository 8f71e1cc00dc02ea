"""The stack under measurement, started only as far as the selected scenarios need it:
emulators, provisioned topics and the Adobe key host (the backend), then alertbridge's HTTP
function and normaliser next to the naive baseline's HTTP function and relay (the services)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertbridge.auth.tokens import Keyring, issue_token
from alertbridge.pubsub import (
    ensure_subscription,
    ensure_topics,
    make_publisher_client,
    make_subscriber_client,
)
from alertbridge.state import FirestoreStore
from alertbridge.tenants import Tenants, load_tenants
from alertbridge_dev.adobe_keys import KeyServer, SigningKey
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import C1_ONLY, Emulator, free_port, wait_until
from bench.harness import ROOT, Report, bench_tenants
from bench.procs import Proc, functions_framework, http_ok, spawn


@dataclass
class Backend:
    pubsub: Emulator
    firestore: Emulator
    key_server: KeyServer
    adobe_key: SigningKey
    ours_env: dict[str, str]
    naive_env: dict[str, str]
    admin: Any  # publisher client, for topics
    sub_admin: Any  # subscriber client, for subscriptions


@dataclass
class Services:
    ours: Proc
    naive: Proc
    normalizer: Proc
    relay: Proc
    ours_url: str
    naive_url: str
    naive_asgi: Proc | None = None
    naive_asgi_url: str = ""


class Stack:
    """Started lazily and stopped once, whatever was started."""

    def __init__(self) -> None:
        work = Path(tempfile.mkdtemp(prefix="alertbridge-bench-"))
        self.tenants_file = bench_tenants(work / "tenants.yaml")
        self.keyring = Keyring.generate("bench")
        self.tenants: Tenants = load_tenants(self.tenants_file)
        self.procs: list[Proc] = []
        self._backend: Backend | None = None
        self._services: Services | None = None
        self._workers_stopped = False
        token_4242, _ = issue_token(self.keyring, "acme-etl", ["4242"])
        self.auth = {"Tenant-ID": "4242", "Authorization": f"Bearer {token_4242}"}

    def backend(self) -> Backend:
        if self._backend is None:
            # both emulators' JVMs compile with C1 only (emulator.C1_ONLY): C2's background
            # compiling was a floor of ~0.3 core each while in use, an emulator's cost on this
            # box that production's managed services do not put on ours (the naive chain uses
            # the same Pub/Sub emulator; only alertbridge uses Firestore)
            pubsub = Emulator(java_options=C1_ONLY).start()
            firestore = Emulator(kind="firestore", java_options=C1_ONLY).start()
            key_server = KeyServer().start()
            adobe_key = key_server.publish(SigningKey())
            base_env = {
                **os.environ,
                "PUBSUB_EMULATOR_HOST": pubsub.host,
                "FIRESTORE_EMULATOR_HOST": firestore.host,
                "PYTHONUNBUFFERED": "1",
            }
            ours_env = {
                **base_env,
                "ALERTBRIDGE_PROJECT": "bench-ours",
                "ALERTBRIDGE_TENANTS_FILE": str(self.tenants_file),
                "ALERTBRIDGE_JWT_KEYS": json.dumps(
                    {k: v.decode() for k, v in self.keyring.keys.items()}
                ),
                "ALERTBRIDGE_ADOBE_KEY_HOST": key_server.url,
            }
            naive_env = {**base_env, "NAIVE_PROJECT": "bench-naive"}
            self._backend = Backend(
                pubsub,
                firestore,
                key_server,
                adobe_key,
                ours_env,
                naive_env,
                make_publisher_client(pubsub.host, ordering=False),
                make_subscriber_client(pubsub.host),
            )
            warm_firestore(firestore.host)
            provision(pubsub.host, "bench-ours", self.tenants)
            ensure_topics(self._backend.admin, "bench-naive", ["naive-in", "naive-out"])
            ensure_subscription(
                self._backend.sub_admin, "bench-naive", "naive-relay", "naive-in", ack_deadline_s=60
            )
        return self._backend

    def services(self) -> Services:
        if self._services is None:
            backend = self.backend()
            ours_port, naive_port, naive_asgi_port = free_port(), free_port(), free_port()
            ours = functions_framework(
                "ingress_asgi",
                ROOT / "functions" / "main.py",
                ours_port,
                backend.ours_env,
                "ours-http",
            )
            naive = functions_framework(
                "publish",
                ROOT / "bench" / "naive" / "main.py",
                naive_port,
                backend.naive_env,
                "naive-http",
            )
            naive_asgi = functions_framework(
                "publish_asgi",
                ROOT / "bench" / "naive" / "asgi.py",
                naive_asgi_port,
                backend.naive_env,
                "naive-asgi-http",
            )
            normalizer = spawn(
                [sys.executable, "-m", "alertbridge_dev.cli", "worker"],
                backend.ours_env,
                "ours-normalize",
            )
            relay = spawn(
                [sys.executable, str(ROOT / "bench" / "naive" / "relay.py")],
                backend.naive_env,
                "naive-relay",
            )
            self.procs += [ours, naive, naive_asgi, normalizer, relay]
            services = Services(
                ours,
                naive,
                normalizer,
                relay,
                f"http://127.0.0.1:{ours_port}",
                f"http://127.0.0.1:{naive_port}",
                naive_asgi,
                f"http://127.0.0.1:{naive_asgi_port}",
            )
            assert wait_until(
                lambda: (
                    http_ok(services.ours_url + "/health")
                    and http_ok(services.naive_url + "/")
                    and http_ok(services.naive_asgi_url + "/")
                ),
                60,
                0.1,
            )
            self._services = services
        return self._services

    def stop_workers(self) -> None:
        """Stop the normaliser and the relay (the drain and the Adobe ingress run without)."""
        if self._services is not None and not self._workers_stopped:
            for proc in (self._services.normalizer, self._services.relay):
                proc.stop()
                self.procs.remove(proc)
            self._workers_stopped = True

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        if self._backend is not None:
            self._backend.key_server.stop()
            self._backend.pubsub.stop()
            self._backend.firestore.stop()


# The Firestore emulator is a JVM: measured here, its first ~3,000 commits cost 2-4x the
# steady state in JIT warm-up (7.7 ms of emulator CPU per commit in the first thousand, 1.4-1.8
# from the fourth on). Production Firestore is a warm managed service, and the naive chain
# uses no Firestore, so a cold emulator would bill the JIT to alertbridge's side alone.
WARM_FIRESTORE_COMMITS = 4_000


def warm_firestore(host: str, commits: int = WARM_FIRESTORE_COMMITS) -> None:
    """Compare-and-sets (create, then update on a known write) and reads on a scratch
    project until the emulator's JIT has settled; nothing of it is in any measured project."""
    store = FirestoreStore("bench-warm-up", host)
    keys = [f"warm|{i}" for i in range(commits // 2)]
    t0 = time.perf_counter()

    def touch(key: str) -> None:
        store.update("warm", key, lambda current: {"n": (current or {}).get("n", 0) + 1})
        store.update("warm", key, lambda current: {"n": (current or {}).get("n", 0) + 1})
        store.get("warm", key)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(touch, keys))
    store.close()
    print(
        f"  Firestore emulator warmed: {commits:,} commits in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )


@dataclass
class Context:
    """What a scenario gets: the stack, the report, the run's sizes, and the figures a later
    scenario compares against (the naive function's req/s from the ingress scenario)."""

    stack: Stack
    report: Report
    seconds: int
    backlog: int
    round: int = 0  # which of the --runs this is: scenarios alternate who goes first by it
    naive_rps: float | None = None
