"""The bench runner's wiring (not its figures: benchmarks measure, they do not assert):
`python -m bench` runs the scenarios selected with --only, in the fixed order, prints each
figure with its ratio and writes only their rows. The in-handler scenario needs no process
and no emulator, so it is the one run here for real."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROOT

SCENARIOS = ["ingress", "latency", "pagerduty", "drain", "cold-start", "in-handler"]


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


def test_bench_without_wrk_says_how_to_get_it_before_starting_anything(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # python, no wrk, no gcloud
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "ingress", "--out", str(tmp_path / "r.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "wrk, which is not on PATH" in out.stderr and "apt-get install -y wrk" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "r.json").exists()


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


def test_bench_runs_twice_and_summarises_each_row_by_its_median_ratio_and_spread(
    tmp_path: Path,
) -> None:
    results = tmp_path / "latest.json"
    out = bench("--only", "in-handler", "--runs", "2", "--out", str(results))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "== run 1 of 2 ==" in out.stdout and "== run 2 of 2 ==" in out.stdout
    assert "median of 2 runs" in out.stdout
    written = json.loads(results.read_text())
    assert len(written["runs"]) == 2
    (row,) = written["summary"]
    assert row["name"] == "in-handler p99 (ms)" and len(row["ratios"]) == 2
    assert min(row["ratios"]) <= row["ratio"] <= max(row["ratios"])


def harness() -> Any:
    """bench/ is a directory next to the package, not installed: import it from the tree."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench.harness")


def test_a_summary_judges_goals_on_the_median_not_on_any_one_run() -> None:
    h = harness()
    judge = h.judge

    def report(ours: float) -> Any:
        return h.Report(rows=[h.Row("p99", ours, 100.0, "ms", "<= 0.8", ours <= 80)])

    text, (row,) = h.summarise_runs([report(70), report(90), report(75), report(200), report(79)])
    assert row["ratio"] == 0.79 and row["met"] is True
    assert "| 0.79 | 0.70-2.00 | <= 0.8 | yes |" in text
    assert judge("<= 200 MiB", 150.0, 9.9) and not judge("<= 200 MiB", 250.0, 0.1)
    assert judge(">= 1.0", 0.0, 1.02) and not judge(">= 0.6", 0.0, 0.55)
    assert judge("<= 1.5 x no-op", 0.0, 1.4) and judge("-", 1e9, 1e9)
