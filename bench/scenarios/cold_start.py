"""4. Cold start, process start -> first 2xx, in venvs holding only what Cloud Functions
installs from each deploy archive: the token function (its own archive's lock) against a
no-op function in the same venv, the sub-task function (the runtime lock) against the naive
publishing function in that venv; median of 5 interleaved rounds."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from alertbridge_dev.emulator import free_port, wait_until
from bench.harness import ROOT, SUBTASK, Row, ratio, subtask_body
from bench.procs import deployed_python, functions_framework, status_of
from bench.stack import Context

TOKEN_FORM = {"grant_type": "password", "username": "acme-etl", "password": "acme-demo-secret"}


def run(ctx: Context) -> None:
    backend, auth, report = ctx.stack.backend(), ctx.stack.auth, ctx.report
    print("4. cold start (process start -> first 2xx, median of 5 rounds)", flush=True)
    python = deployed_python()
    token_python = deployed_python("requirements-token.txt")  # the token archive installs it
    # the tenants file as the deployed secret holds it: JSON (terraform/main.tf stores
    # jsonencode(yamldecode(file)))
    secret = ctx.stack.tenants_file.with_suffix(".secret.json")
    secret.write_text(json.dumps(yaml.safe_load(ctx.stack.tenants_file.read_text())))
    ours_env = {**backend.ours_env, "ALERTBRIDGE_TENANTS_FILE": str(secret)}

    def start_once(
        target: str,
        source: Path,
        env: dict[str, str],
        request: Callable[[str], int],
        interpreter: str,
    ) -> float:
        port = free_port()
        t0 = time.perf_counter()
        proc = functions_framework(target, source, port, env, f"cold-{target}", interpreter)
        url = f"http://127.0.0.1:{port}"
        ok = wait_until(lambda u=url: status_of(request, u) < 300, 60, 0.005)
        elapsed = (time.perf_counter() - t0) * 1000 if ok else float("nan")
        proc.stop()
        return elapsed

    functions: dict[str, tuple[str, Path, dict[str, str], Callable[[str], int], str]] = {
        "noop": (
            "noop",
            ROOT / "bench" / "naive" / "noop.py",
            backend.naive_env,
            lambda u: requests.get(u + "/", timeout=2).status_code,
            token_python,
        ),
        "token": (
            "token",
            ROOT / "functions" / "main.py",
            ours_env,
            lambda u: (
                requests.post(u + "/authn/v1/oauth2/token", data=TOKEN_FORM, timeout=5).status_code
            ),
            token_python,
        ),
        "naive_publish": (
            "publish",
            ROOT / "bench" / "naive" / "main.py",
            backend.naive_env,
            lambda u: requests.post(u + "/", data=b"x", timeout=5).status_code,
            python,
        ),
        "subtask": (
            "subtask_asgi",  # what Terraform deploys
            ROOT / "functions" / "main.py",
            ours_env,
            lambda u: (
                requests.post(
                    u + SUBTASK, json=subtask_body(1), headers=auth, timeout=5
                ).status_code
            ),
            python,
        ),
    }
    # rounds interleave the four functions, so drift in the machine's speed (a shared
    # host) lands on every side alike; the median of 5 rounds is reported
    samples: dict[str, list[float]] = {name: [] for name in functions}
    order = list(functions.items())
    if ctx.round % 2:
        order.reverse()  # who starts first flips from one --runs round to the next
    for _ in range(5):
        for name, spec in order:
            samples[name].append(start_once(*spec))
    cold_ms = {name: statistics.median(values) for name, values in samples.items()}
    report.extra["cold_start_samples_ms"] = samples
    noop_ms, token_ms = cold_ms["noop"], cold_ms["token"]
    naive_pub_ms, subtask_ms = cold_ms["naive_publish"], cold_ms["subtask"]
    report.add(
        Row(
            "cold start, token fn (ms)",
            token_ms,
            noop_ms,
            "ms",
            "<= 1.5 x no-op",
            ratio(token_ms, noop_ms) <= 1.5,
        )
    )
    report.add(
        Row(
            "cold start, sub-task fn (ms)",
            subtask_ms,
            naive_pub_ms,
            "ms",
            "<= 1.3 x naive",
            ratio(subtask_ms, naive_pub_ms) <= 1.3,
        )
    )
    report.extra["token_imports_pubsub"] = token_function_imports_pubsub(backend.ours_env)


def token_function_imports_pubsub(env: dict[str, str]) -> bool:
    """Serve one token request in a fresh interpreter and look at what it imported."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "functions")!r})
import functions_framework
app = functions_framework.create_app(target="token", source={str(ROOT / "functions" / "main.py")!r})
r = app.test_client().post("/authn/v1/oauth2/token", data={{"grant_type": "password",
    "username": "acme-etl", "password": "acme-demo-secret"}})
assert r.status_code == 200, r.get_data()
print("google.cloud.pubsub_v1" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    return out.stdout.strip().splitlines()[-1] == "True"
