"""``alertbridge replay --from-dead-letter`` against the emulator: it drains what was there
when it started and ends, even when a dead letter fails again the same way; a dead letter
of the notify stage goes back to the notifier (its tenant topic), never to the normaliser;
the CLI finds the running ``alertbridge dev`` as ``tail`` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from alertbridge.alert import Alert
from alertbridge.pipeline.deadletter import dead_letter_message
from alertbridge.pipeline.normalize import alert_message, handle_message
from alertbridge.pubsub import EMULATOR_ORDERING_BUCKETS, OutgoingMessage, ordering_key_for
from alertbridge.runtime import Runtime
from alertbridge_dev.replay import ReplayReport, replay_dead_letters
from conftest import EXAMPLE_TENANTS, ROOT, TopicWatch, subtask_body

UNROUTABLE_ADOBE = json.loads(
    (ROOT / "tests" / "fixtures" / "adobe_seed_failure.json").read_text()
)[0]["messages"][0]  # its org placeholder belongs to no tenant


def envelope_attrs(source: str, request_id: str, tenant: str | None = None) -> dict[str, str]:
    attrs = {
        "source": source,
        "request_id": request_id,
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
    }
    if tenant:
        attrs["tenant_id"] = tenant
    return attrs


def unroutable_dead_letter(runtime: Runtime) -> None:
    """A signed Adobe event for an org nobody owns: the normaliser dead-letters it, and a
    replay fails again the same way."""
    data = json.dumps(UNROUTABLE_ADOBE).encode()
    outcome = handle_message(runtime, data, envelope_attrs("adobe.flow_run", "adobe-nobody"))
    assert outcome.dead_letter_reason == "unroutable"


def an_alert(runtime: Runtime, job: str) -> tuple[Alert, OutgoingMessage]:
    """A real alert, as the normaliser publishes it to acme's topic."""
    data = json.dumps(subtask_body(jobId=job)).encode()
    outcome = handle_message(runtime, data, envelope_attrs("liveramp.subtask", job, "4242"))
    (alert,) = outcome.alerts
    return alert, alert_message(alert, "alerts-4242")


def notify_dead_letters(runtime: Runtime) -> list[Alert]:
    """Two alerts the notify stage gave up on: one dead-lettered by the notifier itself
    (``failed_stage=notify``), one moved by the subscription's dead-letter policy (Pub/Sub
    adds ``CloudPubSubDeadLetterSource*`` attributes, nothing of ours)."""
    first, message = an_alert(runtime, "job-notify-1")
    dead = dead_letter_message(
        runtime, message.data, message.attributes, "delivery_failed", "pagerduty 503", "m-1"
    )
    own = {**dead.attributes, "failed_stage": "notify", "destination": "pagerduty"}
    second, message2 = an_alert(runtime, "job-notify-2")
    policy = {
        **message2.attributes,
        "CloudPubSubDeadLetterSourceSubscription": "alertbridge-notify-4242",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
    }
    runtime.publisher.publish_and_wait(
        [
            OutgoingMessage(dead.topic, dead.data, own),
            OutgoingMessage(runtime.settings.dead_letter_topic, message2.data, policy),
        ]
    )
    return [first, second]


def test_replay_of_a_dead_letter_that_fails_again_ends_and_reports_it(
    runtime: Runtime, dead_letters: TopicWatch
) -> None:
    """Before: the re-dead-lettered message was read back and re-driven again, for ever
    (still running after 150 s). Now: one attempt, reported, the new dead letter kept."""
    unroutable_dead_letter(runtime)
    assert len(dead_letters.pull(1)) == 1
    result: list[ReplayReport] = []
    worker = threading.Thread(
        target=lambda: result.append(replay_dead_letters(runtime)), daemon=True
    )
    started = time.monotonic()
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "replay did not end within 60 s"
    print(f"replay of one dead letter that fails again ended in {time.monotonic() - started:.1f} s")
    (report,) = result
    assert (report.seen, report.alerts, report.dead_lettered_again) == (1, 0, 1)
    (entry,) = report.entries
    assert (entry.stage, entry.result, entry.reason) == ("normalize", "failed_again", "unroutable")
    # exactly one new dead letter, and it is still there for the next look
    assert len(dead_letters.pull(2, timeout=2)) == 2
    again = replay_dead_letters(runtime, dry_run=True)
    assert again.seen == 1


def test_notify_stage_dead_letters_go_back_to_the_notifier_not_the_normaliser(
    runtime: Runtime, dead_letters: TopicWatch, watch: Any
) -> None:
    acme = watch("alerts-4242")
    alerts = notify_dead_letters(runtime)
    acme.pull(2)
    assert len(dead_letters.pull(2)) == 2
    report = replay_dead_letters(runtime)
    assert report.seen == 2 and report.dead_lettered_again == 0
    assert {(e.stage, e.result) for e in report.entries} == {("notify", "redriven")}
    redriven = acme.pull(4)[2:]
    assert sorted(m.attributes["ce-id"] for m in redriven) == sorted(a.id for a in alerts)
    assert {m.ordering_key for m in redriven} == {
        ordering_key_for(a.dedup_key, EMULATOR_ORDERING_BUCKETS) for a in alerts
    }
    assert not any(
        k.startswith(("dead_letter", "CloudPubSub")) for m in redriven for k in m.attributes
    )
    assert len(dead_letters.quiet(1.0)) == 2  # nothing became not_an_envelope


def test_cli_replay_finds_the_running_dev_stack_prints_what_it_did_and_exits(
    runtime: Runtime, tmp_path: Path, dead_letters: TopicWatch, watch: Any
) -> None:
    """Run as the on-call runs it: no environment, only the state ``alertbridge dev`` wrote
    (before: ``RuntimeError: set ALERTBRIDGE_TENANTS_FILE`` with a traceback)."""
    acme = watch("alerts-4242")
    unroutable_dead_letter(runtime)
    notify_dead_letters(runtime)
    acme.pull(2)
    state_dir = tmp_path / "alertbridge"
    state_dir.mkdir()
    (state_dir / "dev.json").write_text(
        json.dumps(
            {
                "emulator_host": runtime.emulator_host,
                "project": runtime.settings.project_id,
                "config": str(EXAMPLE_TENANTS),
                "base_url": "http://127.0.0.1:1",
                "pid": 1,
            }
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALERTBRIDGE_", "PUBSUB_", "FIRESTORE_", "GOOGLE_CLOUD_PROJECT"))
    }
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "alertbridge_dev.cli", "replay", "--from-dead-letter"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stdout.splitlines() if not line.startswith('{"')]
    assert sum(line.startswith("re-driven") for line in lines) == 2, out.stdout
    (failed,) = [line for line in lines if line.startswith("failed again")]
    assert "normalize" in failed and "unroutable" in failed
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary | {"dry_run": False} == {
        "seen": 3,
        "redriven": 2,
        "failed_again": 1,
        "alerts": 0,
        "dead_lettered_again": 1,
        "dry_run": False,
    }
    assert len(acme.pull(4)) >= 4  # (a redelivery under load may add one)
    reasons = [m.attributes.get("dead_letter_reason") for m in dead_letters.pull(4)]
    assert reasons.count("unroutable") >= 2 and "not_an_envelope" not in reasons
    print(f"CLI replay of 3 dead letters ended in {elapsed:.1f} s")
