"""The Pub/Sub emulator as a child process group (gcloud leaves a java child behind
if only gcloud is killed, so the whole group is started and stopped together)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


class EmulatorError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll ``predicate`` until it is truthy or the deadline passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def is_ready(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# The emulators' JVM with its C1 compiler only. Measured here (Firestore emulator, paced
# commits after 5,000 to warm it): with the default tiered compilation its JVM spends
# 6.0-6.6 ms of CPU per commit at 50 commits/s and 2.1-2.4 at 150/s, a floor of ~0.3 of a
# core while in use, which C2's compiling is most of; C1 only: 1.7-1.8 and 1.5-1.9 ms, and
# 0.79 vs 0.77 ms per commit flat out (11 % fewer commits/s at the peak).
C1_ONLY = "-XX:TieredStopAtLevel=1"


class Emulator:
    """``gcloud beta emulators pubsub start`` (or ``kind="firestore"``) on a loopback port;
    ``java_options`` reach its JVM through ``JAVA_TOOL_OPTIONS``."""

    def __init__(
        self,
        port: int | None = None,
        project: str = "alertbridge-local",
        kind: str = "pubsub",
        java_options: str | None = None,
    ) -> None:
        if kind not in ("pubsub", "firestore"):
            raise ValueError(f"unknown emulator kind {kind!r}")
        self.kind = kind
        self.java_options = java_options
        self.port = port or free_port()
        self.project = project
        self.host = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._data_dir = Path(tempfile.mkdtemp(prefix="alertbridge-pubsub-"))
        self._log_path = self._data_dir / "emulator.log"

    def start(self, timeout_s: float = 60.0) -> Emulator:
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            raise EmulatorError("gcloud is not on PATH; install the Google Cloud SDK with Java")
        log = self._log_path.open("ab")
        if self.kind == "pubsub":
            argv = [gcloud, "beta", "emulators", "pubsub", "start", f"--data-dir={self._data_dir}"]
        else:
            argv = [gcloud, "emulators", "firestore", "start"]
        env = dict(os.environ)
        if self.java_options:
            env["JAVA_TOOL_OPTIONS"] = " ".join(
                filter(None, (env.get("JAVA_TOOL_OPTIONS"), self.java_options))
            )
        self._proc = subprocess.Popen(
            [*argv, f"--host-port={self.host}", f"--project={self.project}", "--quiet"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_until(
            lambda: is_ready(self.host) or self._proc.poll() is not None, timeout_s, 0.1
        ) or not is_ready(self.host):
            tail = self._log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise EmulatorError(f"the {self.kind} emulator did not start on {self.host}:\n{tail}")
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # the java child may outlive gcloud for a moment: wait for the port to free up
        wait_until(lambda: not _port_open(self.port), 10.0)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """gcloud's process, the leader of the emulator's process group (its java too)."""
        return self._proc

    def thread_count(self) -> int:
        """Threads of every process in the emulator's process group (gcloud and its java),
        from /proc: how the emulator's per-ordering-key thread leak is watched."""
        if self._proc is None:
            return 0
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self._proc.pid:  # field 5 of stat: the process group
                    total += int(fields[17])  # field 20: num_threads
        return total

    def pause(self) -> None:
        """Freeze the emulator (SIGSTOP): a hung dependency, state kept."""
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGCONT)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
