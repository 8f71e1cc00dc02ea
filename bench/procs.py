"""Processes under measurement: start them in their own session (so a stop takes the
gunicorn workers too) and read their peak RSS from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from alertbridge_dev.devstack import functions_framework_argv
from bench.harness import ROOT


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    name: str
    log_path: Path | None = None  # where its stdout and stderr go (its JSON log lines)

    def pids(self) -> list[int]:
        """The process and its children (gunicorn master + workers)."""
        out = [self.popen.pid]
        try:
            children = subprocess.run(
                ["pgrep", "-g", str(self.popen.pid)], capture_output=True, text=True
            ).stdout.split()
            out += [int(p) for p in children if int(p) != self.popen.pid]
        except (OSError, ValueError):
            pass
        return out

    def peak_rss_mib(self) -> float:
        peak = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peak = max(peak, int(match.group(1)))
        return peak / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU the process and its children have used so far (/proc stat):
        the figure that decides the Cloud Functions bill, and far steadier than wall time."""
        ticks = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)


def spawn(argv: list[str], env: dict[str, str], name: str) -> Proc:
    log_path = Path(tempfile.gettempdir()) / f"alertbridge-bench-{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115
    popen = subprocess.Popen(
        argv,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    return Proc(popen, name, log_path)


def functions_framework(
    target: str,
    source: Path,
    port: int,
    env: dict[str, str],
    name: str,
    python: str = sys.executable,
) -> Proc:
    return spawn(
        functions_framework_argv(port, target, source, python),
        # Cloud Functions sets FUNCTION_TARGET to the entry point; main.py reads it (the token
        # function skips the uvicorn twins' imports)
        {**env, "FUNCTION_TARGET": target},
        name,
    )


def http_ok(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def status_of(request: Callable[[str], int], url: str) -> int:
    """The request's status, or 999 while the server is not answering yet."""
    try:
        return request(url)
    except requests.RequestException:
        return 999


DEPLOYED_VENV = ROOT / "bench" / ".venv-deployed"


def deployed_python(requirements: str = "requirements.txt") -> str:
    """An interpreter with only what Cloud Functions installs from one deploy archive
    (``functions/<requirements>``: the runtime lock, or the token function's own), and our
    sources compiled to bytecode as site-packages are, so cold start is measured as deployed:
    the dev venv also holds test and audit tools (rich among them, which structlog imports
    when it is present) that a deployed function never loads. Both sides of a row use the
    same one."""
    venv = (
        DEPLOYED_VENV
        if requirements == "requirements.txt"
        else DEPLOYED_VENV.with_name(
            f"{DEPLOYED_VENV.name}-{Path(requirements).stem.removeprefix('requirements-')}"
        )
    )
    python = venv / "bin" / "python"
    lock = ROOT / "functions" / requirements
    stamp = venv / ".requirements"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", str(lock)],
            check=True,
        )
        stamp.write_text(lock.read_text())
    subprocess.run(
        [str(python), "-m", "compileall", "-q", str(ROOT / "functions"), str(ROOT / "bench")],
        check=True,
    )
    return str(python)
