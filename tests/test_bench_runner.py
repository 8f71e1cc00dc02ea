"""The bench runner's wiring (not its figures: benchmarks measure, they do not assert):
`python -m bench` runs the scenarios selected with --only, in the fixed order, prints each
figure with its ratio and writes only their rows. The in-handler scenario needs no process
and no emulator, so it is the one run here for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCENARIOS = ["ingress", "latency", "drain", "cold-start", "in-handler"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("EMULATOR_HOST")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bench_help_names_every_scenario_in_run_order() -> None:
    out = bench("--help")
    assert out.returncode == 0, out.stderr
    assert "--only" in out.stdout and "--quick" in out.stdout
    assert "{" + ",".join(SCENARIOS) + "}" in out.stdout


def test_bench_only_rejects_an_unknown_scenario_naming_the_known_ones() -> None:
    out = bench("--only", "throughput")
    assert out.returncode == 2
    assert "invalid choice: 'throughput'" in out.stderr
    assert all(name in out.stderr for name in SCENARIOS)


def test_bench_only_in_handler_prints_its_figure_with_ratio_and_writes_only_its_row(
    tmp_path: Path,
) -> None:
    results = tmp_path / "latest.json"
    out = bench("--only", "in-handler", "--out", str(results))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "5. in-handler cost" in out.stdout
    assert "1. ingress" not in out.stdout and "4. cold start" not in out.stdout
    assert "  in-handler p99 (ms): ours " in out.stdout and " -> ratio " in out.stdout
    written = json.loads(results.read_text())
    assert [row["name"] for row in written["rows"]] == ["in-handler p99 (ms)"]
    row = written["rows"][0]
    assert row["baseline"] == 1.5 and row["ratio"] == row["ours"] / 1.5
    assert f"| in-handler p99 (ms) | {row['ours']:,.1f} ms |" in out.stdout
    assert written["in_handler_ms"]["n"] == 5000
