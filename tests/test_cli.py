"""The README's commands and the on-call's `tail`, run as a user runs them."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from alertbridge.pipeline.normalize import handle_message
from alertbridge.runtime import Runtime
from alertbridge_dev import devstack
from alertbridge_dev.cli import main
from alertbridge_dev.emulator import Emulator, free_port
from conftest import EXAMPLE_TENANTS, ROOT, subtask_body


class Lines:
    """A child's stdout read line by line on a thread, waited on with deadlines."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(
            f"{text!r} not seen within {timeout}s; got: {''.join(self.lines)[-3000:]}"
        )

    def drain(self) -> list[str]:
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return self.lines


def attrs(tenant: str, request_id: str) -> dict[str, str]:
    return {
        "source": "liveramp.subtask",
        "request_id": request_id,
        "tenant_id": tenant,
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
    }


@pytest.fixture
def tail_process(
    emulator: Emulator, project: str, runtime: Runtime
) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": emulator.host, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alertbridge_dev.cli",
            "tail",
            "--tenant",
            "4242",
            "--project",
            project,
            "--config",
            str(EXAMPLE_TENANTS),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        yield proc, Lines(proc.stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_tail_shows_each_alert_of_its_tenant_and_nothing_of_others(
    tail_process: tuple[subprocess.Popen[str], Lines], runtime: Runtime
) -> None:
    proc, lines = tail_process
    lines.wait_for("tailing alerts-4242", timeout=30)
    handle_message(
        runtime,
        json.dumps(subtask_body(tenantId=5151, jobId="job-globex")).encode(),
        attrs("5151", "r-globex"),
    )
    handle_message(
        runtime, json.dumps(subtask_body(jobId="job-acme-1")).encode(), attrs("4242", "r1")
    )
    handle_message(
        runtime, json.dumps(subtask_body(jobId="job-acme-2")).encode(), attrs("4242", "r2")
    )
    lines.wait_for("job-acme-1", timeout=20)
    lines.wait_for("job-acme-2", timeout=20)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    output = "".join(lines.drain())
    assert "job-globex" not in output and "tenant=5151" not in output
    subs = runtime.publisher.client.list_topic_subscriptions(
        topic=runtime.publisher.topic_path("alerts-4242")
    )
    assert not [s for s in subs if "/tail-" in s], "tail must delete its subscription on exit"


def test_demo_brings_up_the_stack_and_alerts_land_on_tenant_topics(
    emulator: Emulator, firestore_emulator: Emulator
) -> None:
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator.host,
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "PYTHONUNBUFFERED": "1",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "alertbridge_dev.cli",
            "demo",
            "--port",
            str(free_port()),
            "--project",
            f"demo-{os.getpid()}",
            "--timeout",
            "60",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "alert on 4242's topic" in out.stdout and "alert on 5151's topic" in out.stdout
    assert "alerts landed on tenant topics" in out.stdout and "(timed out)" not in out.stdout
    assert "acme-demo-secret" not in out.stdout + out.stderr
    # tenant 5151's failures reach the other destinations in their own formats
    assert "Teams /teams/5151 -> 202 ERROR:" in out.stdout
    assert "Opsgenie create alias=liveramp.subtask:5151:" in out.stdout
    assert "Webhook /webhook/5151 alert.firing" in out.stdout
    assert "(signature refused)" not in out.stdout


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No running `alertbridge dev` and no ALERTBRIDGE_*/emulator environment."""
    for name in list(os.environ):
        if name.startswith(("ALERTBRIDGE_", "PUBSUB_", "FIRESTORE_", "GOOGLE_CLOUD_PROJECT")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(devstack, "STATE_FILE", tmp_path / "dev.json")
    return tmp_path


def one_line_error(argv: list[str], capfd: pytest.CaptureFixture[str]) -> str:
    """Run the real CLI entry; its failure must be a non-zero status and one stderr line."""
    status = main(argv)
    err = capfd.readouterr().err
    assert status != 0
    assert "Traceback" not in err and err.endswith("\n") and err.count("\n") == 1, err
    return err


def test_cli_errors_are_one_line_on_stderr_with_a_non_zero_status(
    no_stack: Path,
    capfd: pytest.CaptureFixture[str],
    emulator: Emulator,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = one_line_error(["replay", "--from-dead-letter"], capfd)
    assert err.startswith("alertbridge replay: no project: start `alertbridge dev`")
    err = one_line_error(["poll-cih"], capfd)
    assert err.startswith("alertbridge poll-cih: no project")
    err = one_line_error(["replay", "--since", "yesterday", "--project", project], capfd)
    assert "--since 'yesterday' is not an RFC 3339 time" in err
    broken = no_stack / "tenants.yaml"
    broken.write_text("tenants:\n  - id: 1\n    name: [unclosed\n")
    err = one_line_error(
        ["replay", "--from-dead-letter", "--project", project, "--config", str(broken)], capfd
    )
    assert err.startswith("alertbridge replay: ") and "tenants.yaml" in err
    err = one_line_error(
        ["replay", "--from-dead-letter", "--project", project, "--config", "/nope.yaml"], capfd
    )
    assert "tenants file /nope.yaml not found" in err
    # a project on the emulator without the dead-letter subscription
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    err = one_line_error(
        ["replay", "--from-dead-letter", "--project", project, "--config", str(EXAMPLE_TENANTS)],
        capfd,
    )
    assert err.startswith("alertbridge replay: NotFound")


def test_replay_without_a_stack_says_so_in_one_line_as_a_subprocess(no_stack: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALERTBRIDGE_", "PUBSUB_", "FIRESTORE_", "GOOGLE_CLOUD_PROJECT"))
    }
    out = subprocess.run(
        [sys.executable, "-m", "alertbridge_dev.cli", "replay", "--from-dead-letter"],
        env={**env, "XDG_CACHE_HOME": str(no_stack)},
        cwd=no_stack,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "alertbridge replay: no project: start `alertbridge dev`, or set ALERTBRIDGE_PROJECT "
        "(or --project)"
    ]
