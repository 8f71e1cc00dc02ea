"""When Pub/Sub is unreachable the sender gets 503 + Retry-After, never a 2xx; once it is
back the same process accepts again and what it accepted is delivered."""

from __future__ import annotations

import time
from typing import Any

import functions_framework
import pytest

from alertbridge import runtime as runtime_mod
from alertbridge.auth.tokens import Keyring
from alertbridge.pipeline.normalize import handle_message
from alertbridge.pubsub import ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.tenants import Tenants
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import Emulator
from conftest import ROOT, TopicWatch, subtask_body, token_for

PATH = "/analytics-environment/v1/job-pub-sub-messages"


def test_outage_gives_503_then_the_same_process_recovers(
    own_emulator: Emulator, tenants: Tenants
) -> None:
    project = "outage"
    provision(own_emulator.host, project, tenants)
    rt = Runtime(
        Settings(project_id=project, publish_timeout_s=1.5),
        tenants,
        Keyring.generate(),
        own_emulator.host,
    )
    runtime_mod.set_runtime(rt)
    try:
        client: Any = functions_framework.create_app(
            target="ingress", source=str(ROOT / "functions" / "main.py")
        ).test_client()
        token = token_for(client)
        headers = {"Tenant-ID": "4242", "Authorization": f"Bearer {token}"}
        assert client.post(PATH, json=subtask_body(), headers=headers).status_code == 202

        own_emulator.stop()
        started = time.monotonic()
        response = client.post(PATH, json=subtask_body(jobId="job-during-outage"), headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
        assert response.get_json()["error"] == "unavailable"
        assert elapsed < 1.5 + 2.0, f"503 took {elapsed:.1f}s"

        own_emulator.start()  # in-memory emulator: topics are gone, recreate as Terraform would
        provision(own_emulator.host, project, tenants)
        subscriber = make_subscriber_client(own_emulator.host)
        ingest = TopicWatch(
            subscriber,
            ensure_subscription(subscriber, project, "watch-ingest", "alertbridge-ingest"),
        )
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline and status != 202:
            status = client.post(
                PATH, json=subtask_body(jobId="job-after"), headers=headers
            ).status_code
            if status != 202:
                assert status == 503
                time.sleep(0.2)
        assert status == 202
        (message,) = ingest.pull(1)
        outcome = handle_message(rt, message.data, message.attributes)
        assert [a.tenant_id for a in outcome.alerts] == ["4242"]
        subscriber.close()
    finally:
        runtime_mod.set_runtime(None)
        rt.close()


def test_the_publisher_keeps_working_after_a_publish_to_a_missing_topic(runtime: Runtime) -> None:
    """A failed batch fails its own waiters only; the flusher goes on for everyone else."""
    from alertbridge.pubsub import OutgoingMessage, PublishError

    with pytest.raises(PublishError):
        runtime.publisher.publish_and_wait([OutgoingMessage("no-such-topic", b"x", {})])
    ids = runtime.publisher.publish_and_wait([OutgoingMessage("alertbridge-ingest", b"y", {})])
    assert len(ids) == 1 and ids[0]


def test_publish_without_waiting_resolves_once_all_are_confirmed_or_fails_whole(
    runtime: Runtime, ingest: TopicWatch
) -> None:
    """The normaliser's non-blocking path: one future per message set, never a partial ack."""
    from alertbridge.pubsub import OutgoingMessage, PublishError

    mixed = runtime.publisher.publish(
        [
            OutgoingMessage("alertbridge-ingest", b"a", {}),
            OutgoingMessage("no-such-topic", b"b", {}),
        ]
    )
    with pytest.raises(PublishError):
        mixed.result(timeout=10)
    good = runtime.publisher.publish(
        [OutgoingMessage("alertbridge-ingest", f"m{i}".encode(), {}) for i in range(5)]
    )
    ids = good.result(timeout=10)
    assert len(ids) == 5 and len(set(ids)) == 5
    assert runtime.publisher.publish([]).result(timeout=1) == []
    assert {m.data for m in ingest.pull(6)} >= {f"m{i}".encode() for i in range(5)}
