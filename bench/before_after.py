"""Cold start and ingress of two source trees, interleaved in one run (issue 15: the
restructure must not make either worse). Usage:

    python bench/before_after.py --before /path/to/old/checkout --after .

Each tree's functions run from its own ``functions/`` in the venv Cloud Functions would
build (``functions/requirements.txt`` only, sources compiled), against one Pub/Sub emulator;
rounds alternate before/after so drift in a shared machine lands on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "devtools")]

from alertbridge.auth.tokens import Keyring, issue_token  # noqa: E402
from alertbridge.tenants import load_tenants  # noqa: E402
from alertbridge_dev.devstack import provision  # noqa: E402
from alertbridge_dev.emulator import Emulator, free_port, wait_until  # noqa: E402
from bench.harness import SUBTASK, subtask_body  # noqa: E402
from bench.procs import deployed_python, functions_framework, status_of  # noqa: E402

TOKEN_FORM = {"grant_type": "password", "username": "acme-etl", "password": "acme-demo-secret"}


def cold_start(
    python: str, tree: Path, target: str, env: dict[str, str], auth: dict[str, str]
) -> float:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = functions_framework(
        target, tree / "functions" / "main.py", port, env, f"cold-{target}", python
    )
    if target == "token":

        def request(u: str) -> int:
            return requests.post(
                u + "/authn/v1/oauth2/token", data=TOKEN_FORM, timeout=5
            ).status_code
    else:

        def request(u: str) -> int:
            return requests.post(
                u + SUBTASK, json=subtask_body(1), headers=auth, timeout=5
            ).status_code

    ok = wait_until(lambda: status_of(request, url) < 300, 60, 0.005)
    elapsed = (time.perf_counter() - t0) * 1000 if ok else float("nan")
    proc.stop()
    return elapsed


def ingress_rps(
    python: str, tree: Path, env: dict[str, str], auth: dict[str, str], n: int
) -> float:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = functions_framework(
        "subtask", tree / "functions" / "main.py", port, env, "ingress", python
    )
    try:
        assert wait_until(
            lambda: (
                status_of(lambda u: requests.get(u + "/health", timeout=2).status_code, url) < 300
            ),
            60,
            0.05,
        )
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

        def post(i: int) -> int:
            body = subtask_body(i)
            return session.post(url + SUBTASK, json=body, headers=auth, timeout=10).status_code

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(post, range(50)))  # warm
            t0 = time.perf_counter()
            statuses = list(pool.map(post, range(50, 50 + n)))
            elapsed = time.perf_counter() - t0
        assert all(s == 202 for s in statuses), {s: statuses.count(s) for s in set(statuses)}
        return n / elapsed
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    python = deployed_python()
    for tree in trees.values():
        subprocess.run([python, "-m", "compileall", "-q", str(tree / "functions")], check=True)
    keyring = Keyring.generate("ba")
    token, _ = issue_token(keyring, "acme-etl", ["4242"])
    auth = {"Tenant-ID": "4242", "Authorization": f"Bearer {token}"}
    emulator = Emulator().start()
    try:
        results: dict[str, dict[str, list[float]]] = {
            name: {"token_ms": [], "subtask_ms": [], "ingress_rps": []} for name in trees
        }
        envs = {}
        for name, tree in trees.items():
            project = f"ba-{name}"
            # the example tenants with the rate limit lifted: ingress is measured, not the bucket
            data = yaml.safe_load((tree / "config" / "tenants.example.yaml").read_text())
            for tenant in data["tenants"]:
                tenant["rate_limit"] = {"requests_per_second": 1e6, "burst": 1_000_000}
            tenants_file = Path(tempfile.mkdtemp()) / "tenants.yaml"
            tenants_file.write_text(yaml.safe_dump(data))
            provision(emulator.host, project, load_tenants(tenants_file))
            envs[name] = {
                **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                "PUBSUB_EMULATOR_HOST": emulator.host,
                "ALERTBRIDGE_PROJECT": project,
                "ALERTBRIDGE_TENANTS_FILE": str(tenants_file),
                "ALERTBRIDGE_JWT_KEYS": json.dumps(
                    {k: v.decode() for k, v in keyring.keys.items()}
                ),
                "PYTHONUNBUFFERED": "1",
            }
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                r = results[name]
                r["token_ms"].append(cold_start(python, trees[name], "token", envs[name], auth))
                r["subtask_ms"].append(cold_start(python, trees[name], "subtask", envs[name], auth))
                r["ingress_rps"].append(
                    ingress_rps(python, trees[name], envs[name], auth, args.requests)
                )
        print(f"{'figure':<28}{'before':>12}{'after':>12}{'after/before':>14}   spread (after)")
        for key in ("token_ms", "subtask_ms", "ingress_rps"):
            b, a = (statistics.median(results[n][key]) for n in ("before", "after"))
            spread = f"{min(results['after'][key]):.1f}-{max(results['after'][key]):.1f}"
            print(f"{key:<28}{b:>12.1f}{a:>12.1f}{a / b:>14.2f}   {spread}")
        print(json.dumps(results))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
