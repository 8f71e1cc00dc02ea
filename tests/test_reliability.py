"""Nothing lost under load and faults, on the real emulators: every accepted request ends on
its tenant topic or the dead-letter topic, every refused one published nothing."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import yaml

from alertbridge import runtime as runtime_mod
from alertbridge import sources
from alertbridge.auth.tokens import Keyring, issue_token
from alertbridge.pipeline.normalize import handle_message
from alertbridge.pubsub import OutgoingMessage, ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.state import StateStore
from alertbridge.tenants import loads_tenants
from alertbridge_dev.adobe_keys import KeyServer, SigningKey, signed_headers
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import Emulator
from alertbridge_dev.replay import replay_dead_letters, replay_ingest
from alertbridge_dev.worker import NormalizeWorker
from conftest import EXAMPLE_TENANTS, ROOT, TopicWatch, subtask_body

SUBTASK = "/analytics-environment/v1/job-pub-sub-messages"
CIH_SEED = json.loads((ROOT / "tests" / "fixtures" / "informatica_seed_event.json").read_text())
ADOBE = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)


def roomy_tenants() -> str:
    """The example tenants with rate limits lifted, so the load test measures loss, not 429s."""
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    for tenant in data["tenants"]:
        tenant["rate_limit"] = {"requests_per_second": 100000, "burst": 100000}
    return yaml.safe_dump(data)


def envelope_attrs(source: str, tenant: str | None, request_id: str) -> dict[str, str]:
    attrs = {
        "source": source,
        "request_id": request_id,
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
    }
    if tenant:
        attrs["tenant_id"] = tenant
    return attrs


class Collector:
    """Streaming-pull every message of some topics into memory, keyed by topic."""

    def __init__(self, emulator_host: str, project: str, topics: list[str]) -> None:
        self.subscriber = make_subscriber_client(emulator_host)
        self.got: dict[str, list[tuple[bytes, dict[str, str]]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._futures = []
        for topic in topics:
            path = ensure_subscription(self.subscriber, project, f"collect-{topic}", topic)
            self._futures.append(self.subscriber.subscribe(path, self._callback(topic)))

    def _callback(self, topic: str) -> Any:
        def on_message(message: Any) -> None:
            with self._lock:
                self.got[topic].append((message.data, dict(message.attributes)))
            message.ack()

        return on_message

    def wait(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self.got):
                    return True
            time.sleep(0.1)
        with self._lock:
            return bool(predicate(self.got))

    def close(self) -> None:
        for future in self._futures:
            future.cancel()
        self.subscriber.close()


def test_mixed_concurrent_load_loses_nothing_and_refusals_publish_nothing(
    emulator: Emulator,
    project: str,
    runtime: Runtime,
    state: StateStore,
    live_server: str,
    key_server: KeyServer,
) -> None:
    runtime.tenants = loads_tenants(roomy_tenants())
    runtime.settings = dataclasses.replace(runtime.settings, adobe_key_host=key_server.url)
    key = key_server.publish(SigningKey())
    tokens = {
        t: issue_token(runtime.keyring, u, [t])[0]  # type: ignore[arg-type]
        for t, u in (("4242", "acme-etl"), ("5151", "globex-etl"))
    }
    collector = Collector(
        emulator.host,
        project,
        ["alertbridge-ingest", "alerts-4242", "alerts-5151", "alertbridge-dead-letter"],
    )
    worker = NormalizeWorker(runtime, threads=16).start()
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

    def request(i: int) -> tuple[str, int, str | None, int]:
        """(kind, status, request_id, alerts expected)"""
        tenant = "4242" if i % 2 else "5151"
        auth = {"Tenant-ID": tenant, "Authorization": f"Bearer {tokens[tenant]}"}
        kind = ["subtask", "subtask_bad", "cih", "cih_bad", "adobe", "adobe_bad", "adobe_unknown"][
            i % 7
        ]
        if kind.startswith("subtask"):
            body = subtask_body(
                tenantId=int(tenant),
                jobId=f"job-{i}",
                pipeId=i + 1,
                envId=0 if kind == "subtask_bad" else 1,
            )
            r = session.post(live_server + SUBTASK, json=body, headers=auth)
            expected = 1
        elif kind.startswith("cih"):
            event = copy.deepcopy(CIH_SEED)
            event["eventId"] = 100000 + i
            event["childEvents"][0]["eventId"] = 200000 + i
            event["pubSubName"] = f"Pub{i}"
            event["applicationName"] = "DI_App" if tenant == "4242" else "Globex_CIH"
            if kind == "cih_bad":
                del event["childEvents"][0]["eventStatus"]
            r = session.post(live_server + "/informatica/v1/events", json=event, headers=auth)
            expected = 2
        else:
            event = copy.deepcopy(ADOBE["failure"][0]["messages"][0])
            event["value"]["flowId"] = f"flow-{i}"
            event["value"]["id"] = f"run-{i}"
            if kind == "adobe_unknown":
                event["value"]["imsOrgId"] = "NOBODY@AdobeOrg"
            body = json.dumps(event).encode()
            headers = signed_headers(body, key)
            if kind == "adobe_bad":
                body = body.replace(b"flow-", b"FLOW-")
            r = session.post(
                live_server + "/adobe/v1/flow-run-notifications", data=body, headers=headers
            )
            expected = 1
        request_id = (
            r.json().get("request_id")
            if r.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        return kind, r.status_code, request_id, expected

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(request, range(1400)))
    send_s = time.monotonic() - started
    accepted = {rid: (kind, n) for kind, status, rid, n in results if 200 <= status < 300}
    refused = {rid for kind, status, rid, _ in results if status >= 400}
    statuses = {(kind, status) for kind, status, _, _ in results}
    assert statuses == {
        ("subtask", 202),
        ("subtask_bad", 400),
        ("cih", 202),
        ("cih_bad", 400),
        ("adobe", 200),
        ("adobe_bad", 401),
        ("adobe_unknown", 200),
    }

    def outcome_ids(got: dict[str, list[tuple[bytes, dict[str, str]]]]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for topic in ("alerts-4242", "alerts-5151"):
            for _data, attrs in got[topic]:
                out[attrs["request_id"]].add(attrs["ce-id"])
        for _data, attrs in got["alertbridge-dead-letter"]:
            out[attrs["request_id"]].add("dead:" + attrs["dead_letter_reason"])
        return out

    def all_ended(got: Any) -> bool:
        ended = outcome_ids(got)
        return all(
            len(ended.get(rid, ())) >= (1 if kind == "adobe_unknown" else n)
            for rid, (kind, n) in accepted.items()
        )

    assert collector.wait(all_ended, timeout=90), "some accepted requests never ended anywhere"
    worker.stop()
    ended = outcome_ids(collector.got)
    for rid, (kind, n) in accepted.items():
        expected = {"dead:unroutable"} if kind == "adobe_unknown" else None
        if expected:
            assert ended[rid] == expected
        else:
            assert len(ended[rid]) == n, (kind, ended[rid])  # exactly once after dedup by alert id
    ingest_ids = {attrs["request_id"] for _, attrs in collector.got["alertbridge-ingest"]}
    assert ingest_ids.isdisjoint(refused) and len(refused) == 600
    collector.close()
    print(
        f"\nload: {len(results)} requests in {send_s:.1f}s, {len(accepted)} accepted, "
        f"{len(refused)} refused, lost 0"
    )


def test_a_hung_emulator_gives_503_fast_and_the_same_process_recovers() -> None:
    tenants = loads_tenants(roomy_tenants())
    emu = Emulator().start()
    rt = Runtime(
        Settings(project_id="hang", publish_timeout_s=1.0), tenants, Keyring.generate(), emu.host
    )
    runtime_mod.set_runtime(rt)
    try:
        import functions_framework

        provision(emu.host, "hang", tenants)
        client = functions_framework.create_app(
            target="subtask", source=str(ROOT / "functions" / "main.py")
        ).test_client()
        token, _ = issue_token(rt.keyring, "acme-etl", ["4242"])  # type: ignore[arg-type]
        headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token}"}
        subscriber = make_subscriber_client(emu.host)
        ingest = TopicWatch(
            subscriber, ensure_subscription(subscriber, "hang", "hang-watch", "alertbridge-ingest")
        )
        subscriber = make_subscriber_client(emu.host)
        ingest = TopicWatch(
            subscriber, ensure_subscription(subscriber, "hang", "hang-watch", "alertbridge-ingest")
        )
        results: list[tuple[int, float, str, str | None]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def sender(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                t0 = time.monotonic()
                r = client.post(SUBTASK, json=subtask_body(jobId=f"job-{n}-{i}"), headers=headers)
                with lock:
                    results.append(
                        (
                            r.status_code,
                            time.monotonic() - t0,
                            r.get_json().get("request_id", ""),
                            r.headers.get("Retry-After"),
                        )
                    )

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)  # load runs before, during and after the outage; not a synchronisation
        emu.pause()
        time.sleep(3.0)
        emu.resume()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        unavailable = [r for r in results if r[0] == 503]
        assert unavailable and all(r[3] and int(r[3]) >= 1 for r in unavailable)
        assert max(r[1] for r in results) < 1.0 + 3.0, "a request hung past the publish timeout"
        assert {r[0] for r in results} <= {202, 503}
        assert results[-1][0] == 202, "recovered without a restart"
        accepted = {r[2] for r in results if r[0] == 202}

        def ids(messages: list[Any]) -> set[str]:
            return {m.attributes["request_id"] for m in messages}

        received = ids(ingest.pull_until(lambda got: accepted <= ids(got), timeout=60))
        assert accepted <= received, "a 2xx was answered for a message not in Pub/Sub"
        subscriber.close()
        print(
            f"\noutage: {len(results)} requests, {len(accepted)} accepted, "
            f"{len(unavailable)} answered 503, slowest {max(r[1] for r in results):.2f}s"
        )
    finally:
        runtime_mod.set_runtime(None)
        rt.close()
        emu.resume()
        emu.stop()


def test_an_adapter_that_raises_is_redelivered_then_dead_lettered_never_silently_acked(
    runtime: Runtime, dead_letters: TopicWatch
) -> None:
    calls: list[str] = []

    def explode(envelope: Any, tenants: Any) -> list[Any]:
        calls.append(envelope.request_id)
        raise RuntimeError("adapter bug")

    sources.register("test.explode", explode)
    runtime.settings = dataclasses.replace(runtime.settings, max_delivery_attempts=3)
    worker = NormalizeWorker(runtime).start()
    try:
        runtime.publisher.publish_and_wait(
            [
                OutgoingMessage(
                    "alertbridge-ingest", b"{}", envelope_attrs("test.explode", "4242", "boom-1")
                )
            ]
        )
        (dead,) = dead_letters.pull(1, timeout=30)
        assert dead.attributes["dead_letter_reason"] == "normalize_failed"
        detail = dead.attributes["dead_letter_detail"]
        assert detail.startswith("RuntimeError at ") and "(after 3 delivery attempts)" in detail
        assert "adapter bug" not in detail  # the type and where, never the message
        assert calls == ["boom-1"] * 3
    finally:
        worker.stop()
        sources.unregister("test.explode")


def test_killing_the_normaliser_mid_backlog_loses_nothing(
    emulator: Emulator, project: str, runtime: Runtime
) -> None:
    collector = Collector(emulator.host, project, ["alerts-4242"])
    messages = [
        OutgoingMessage(
            "alertbridge-ingest",
            json.dumps(subtask_body(jobId=f"job-{i}")).encode(),
            envelope_attrs("liveramp.subtask", "4242", f"crash-{i}"),
        )
        for i in range(600)
    ]
    runtime.publisher.publish_and_wait(messages)
    assert runtime.keyring is not None
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator.host,
        "ALERTBRIDGE_PROJECT": project,
        "ALERTBRIDGE_TENANTS_FILE": str(EXAMPLE_TENANTS),
        "ALERTBRIDGE_JWT_KEYS": json.dumps(
            {k: v.decode() for k, v in runtime.keyring.keys.items()}
        ),
    }

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "alertbridge_dev.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def distinct(got: Any) -> set[str]:
        return {attrs["request_id"] for _, attrs in got["alerts-4242"]}

    first = start_worker()
    assert collector.wait(lambda got: len(distinct(got)) >= 50, timeout=60)
    os.killpg(first.pid, signal.SIGKILL)  # mid-batch: some messages leased, not acked
    first.wait(timeout=10)
    assert len(distinct(collector.got)) < 600, "the crash must happen mid-backlog"
    second = start_worker()
    try:
        assert collector.wait(lambda got: len(distinct(got)) == 600, timeout=120)
        ids_per_request = defaultdict(set)
        for _, attrs in collector.got["alerts-4242"]:
            ids_per_request[attrs["request_id"]].add(attrs["ce-id"])
        assert all(len(ids) == 1 for ids in ids_per_request.values())  # redelivered = same id
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=20)
        collector.close()


def test_replay_redrives_dead_letters_and_ingest_ranges_with_the_same_alert_ids(
    runtime: Runtime, watch: Any, dead_letters: TopicWatch
) -> None:
    # the topic exists before the tenant does (Terraform creates it with the tenant's entry)
    runtime.publisher.client.create_topic(name=runtime.publisher.topic_path("alerts-7777"))
    newcomer = watch("alerts-7777")
    from alertbridge.pubsub import ensure_subscription as ensure

    subscriber = make_subscriber_client(runtime.emulator_host)
    ensure(
        subscriber,
        runtime.settings.project_id,
        "alertbridge-dead-letter-inspect",
        "alertbridge-dead-letter",
    )
    since = datetime.now(UTC) - timedelta(seconds=2)
    raw = [json.dumps(subtask_body(tenantId=7777, jobId=f"job-{i}")).encode() for i in range(5)]
    for i, data in enumerate(raw):
        attrs = envelope_attrs("liveramp.subtask", "7777", f"late-{i}")
        runtime.publisher.publish_and_wait([OutgoingMessage("alertbridge-ingest", data, attrs)])
        assert handle_message(runtime, data, attrs).dead_letter_reason == "unroutable"
    assert len(dead_letters.pull(5)) == 5

    text = EXAMPLE_TENANTS.read_text() + '\n  - {id: "7777", name: newcomer}\n'
    runtime.tenants = loads_tenants(text)  # the tenants file was fixed
    report = replay_dead_letters(runtime)
    assert (report.seen, report.alerts, report.dead_lettered_again) == (5, 5, 0)
    first_ids = sorted(report.alert_ids)
    assert sorted(m.attributes["ce-id"] for m in newcomer.pull(5)) == first_ids

    again = replay_ingest(runtime, since)
    assert again.seen == 5 and sorted(again.alert_ids) == first_ids  # idempotent
    assert replay_dead_letters(runtime).seen == 0
    subscriber.close()


def test_resolve_never_overtakes_its_trigger_on_the_tenant_topic(
    runtime: Runtime, state: StateStore
) -> None:
    subscriber = make_subscriber_client(runtime.emulator_host)
    path = ensure_subscription(
        subscriber, runtime.settings.project_id, "ordered-watch", "alerts-4242", ordering=True
    )
    order: list[tuple[str, str]] = []
    done = threading.Event()

    def on_message(message: Any) -> None:
        order.append((message.attributes["dedup_key"], message.attributes["status"]))
        message.ack()
        if len(order) >= 40:
            done.set()

    future = subscriber.subscribe(path, on_message)
    try:
        for i in range(20):
            failure = copy.deepcopy(ADOBE["failure"][0]["messages"][0])
            success = copy.deepcopy(ADOBE["success"])
            failure["value"]["flowId"] = success["event"]["flowId"] = f"ordered-{i}"
            for event in (failure, success):
                handle_message(
                    runtime,
                    json.dumps(event).encode(),
                    envelope_attrs("adobe.flow_run", None, f"o-{i}-{uuid.uuid4().hex[:4]}"),
                )
        assert done.wait(30)
        for i in range(20):
            key = f"adobe.flow_run:4242:prod:ordered-{i}"
            assert [s for k, s in order if k == key] == ["firing", "resolved"]
    finally:
        future.cancel()
        subscriber.close()
