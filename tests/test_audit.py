"""scripts/audit.sh, the CI vulnerability audit, against a local OSV server (OSV's documented
`POST /v1/query` protocol; pip-audit's `--osv-url`): a known vulnerability fails, a clean lock
passes, a service that never answers is retried and then reported as NOT audited without
failing the build (CI once failed on pypi.org timing out), a usage error is not retried."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT

# Decides one OSV query: returns the JSON body to answer, or None to hang until the test ends.
Answer = Callable[[dict[str, object], int], dict[str, object] | None]


class OsvServer:
    """A loopback OSV API: counts queries and answers each with `answer(query, n)`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.queries: list[dict[str, object]] = []
        self.release = threading.Event()
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    server.queries.append(query)
                    n = len(server.queries)
                body = server.answer(query, n)
                if body is None:
                    server.release.wait(30)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/query"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def osv() -> Iterator[Callable[[Answer], OsvServer]]:
    servers: list[OsvServer] = []

    def start(answer: Answer) -> OsvServer:
        servers.append(OsvServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def one_package_lock(tmp_path: Path, name: str = "idna") -> Path:
    """A lock of one hashed pin taken from requirements-dev.lock (what audit.sh audits)."""
    lines = (ROOT / "requirements-dev.lock").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}=="))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        if line.strip().startswith("--hash"):
            block.append(line)
    lock = tmp_path / "one.lock"
    lock.write_text("\n".join(block).rstrip("\\ ") + "\n")
    return lock


def run_audit(
    lock: Path, server: OsvServer, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/audit.sh", "-s", "osv", "--osv-url", server.url, *extra],
        cwd=ROOT,
        env={**os.environ, "AUDIT_LOCK": str(lock), "AUDIT_TIMEOUT": "2", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def vulnerable(package: str) -> Answer:
    def answer(query: dict[str, object], n: int) -> dict[str, object]:
        name = query["package"]["name"]  # type: ignore[index]
        if name != package:
            return {}
        return {
            "vulns": [
                {
                    "id": "GHSA-test-0000-0000",
                    "summary": "a vulnerability the local OSV server knows",
                    "affected": [
                        {
                            "package": {"name": package, "ecosystem": "PyPI"},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": "999"}],
                                }
                            ],
                        }
                    ],
                }
            ]
        }

    return answer


def test_a_known_vulnerability_in_the_lock_fails_the_audit_and_names_it(
    tmp_path: Path, osv: Callable[[Answer], OsvServer]
) -> None:
    server = osv(vulnerable("idna"))
    result = run_audit(one_package_lock(tmp_path), server)
    assert result.returncode == 1, result.stderr
    assert "GHSA-test-0000-0000" in result.stdout
    assert "idna" in result.stdout
    assert len(server.queries) == 1  # a report is final: not retried


def test_a_lock_with_no_known_vulnerability_passes(
    tmp_path: Path, osv: Callable[[Answer], OsvServer]
) -> None:
    server = osv(lambda query, n: {})
    result = run_audit(one_package_lock(tmp_path), server)
    assert result.returncode == 0, result.stderr
    assert "no known vulnerability" in result.stdout
    assert server.queries[0]["package"] == {"name": "idna", "ecosystem": "PyPI"}


def test_a_service_that_never_answers_is_retried_then_reported_not_audited_without_failing(
    tmp_path: Path, osv: Callable[[Answer], OsvServer]
) -> None:
    server = osv(lambda query, n: None)
    result = run_audit(one_package_lock(tmp_path), server, AUDIT_ATTEMPTS="2")
    assert result.returncode == 0, result.stderr
    assert "NOT audited" in result.stderr
    assert len(server.queries) == 2  # one per attempt


def test_a_vulnerability_found_on_the_retry_after_a_timeout_still_fails(
    tmp_path: Path, osv: Callable[[Answer], OsvServer]
) -> None:
    found = vulnerable("idna")
    server = osv(lambda query, n: None if n == 1 else found(query, n))
    result = run_audit(one_package_lock(tmp_path), server)
    assert result.returncode == 1, result.stderr
    assert "attempt 1 of 3" in result.stderr
    assert "GHSA-test-0000-0000" in result.stdout


def test_a_usage_error_fails_at_once_and_is_not_taken_for_the_network(
    tmp_path: Path, osv: Callable[[Answer], OsvServer]
) -> None:
    server = osv(lambda query, n: {})
    result = run_audit(one_package_lock(tmp_path), server, "--no-such-option")
    assert result.returncode == 2
    assert "attempt" not in result.stderr
    assert server.queries == []
