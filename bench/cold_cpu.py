"""CPU time (user + system) from process start to the first answer of the token and sub-task
functions, for two source trees in alternating rounds: the cold-start figure that a loaded,
shared machine does not blur as it blurs wall time. Usage:

    python bench/cold_cpu.py --before /path/to/old/checkout --after . [--rounds 12]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from alertbridge.auth.tokens import Keyring  # noqa: E402
from bench.procs import deployed_python  # noqa: E402

CODE = """
import sys
sys.path.insert(0, {functions!r})
import functions_framework
app = functions_framework.create_app(target={target!r}, source={functions!r} + "/main.py")
client = app.test_client()
if {target!r} == "token":
    r = client.post("/authn/v1/oauth2/token", data={{"grant_type": "password",
        "username": "acme-etl", "password": "acme-demo-secret"}})
else:
    r = client.get("/metrics")
assert r.status_code == 200, r.status_code
"""


def cpu_ms(python: str, tree: Path, target: str, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = CODE.format(functions=str(tree / "functions"), target=target)
    subprocess.run([python, "-c", code], env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    python = deployed_python()
    keys = json.dumps({k: v.decode() for k, v in Keyring.generate("cold").keys.items()})
    results: dict[str, dict[str, list[float]]] = {
        name: {"token": [], "subtask": []} for name in trees
    }
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            env.update(
                ALERTBRIDGE_TENANTS_FILE=str(trees[name] / "config" / "tenants.example.yaml"),
                ALERTBRIDGE_JWT_KEYS=keys,
                ALERTBRIDGE_PROJECT="cold",
            )
            for target in ("token", "subtask"):
                results[name][target].append(cpu_ms(python, trees[name], target, env))
    for target in ("token", "subtask"):
        b, a = (statistics.median(results[n][target]) for n in ("before", "after"))
        print(
            f"{target:8} CPU ms to first answer: before {b:7.1f}  after {a:7.1f}  "
            f"after/before {a / b:.2f}"
        )


if __name__ == "__main__":
    main()
