"""alertbridge against the naive pipeline, side by side, in one run on one emulator.

    make bench            # = .venv/bin/python bench/run.py --runs 5  (needs `wrk`)
    .venv/bin/python bench/run.py --quick
    .venv/bin/python -m bench --only drain cold-start

Prints a table (ours, baseline, ratio, goal, met?) and writes bench/results/latest.json.
With --runs N the whole selection runs N times, each on a fresh stack, alternating which
side goes first, and the summary gives every row's median ratio and its spread (min-max).
Benchmarks are never part of the test suite; they measure, they do not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file (bench/run.py): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import RESULTS, Report, summarise_runs
from bench.scenarios import cold_start, drain, in_handler, ingress, latency, pagerduty
from bench.stack import Context, Stack

Step = Callable[[Context], None]

# The run order, which the figures depend on: ingress while the whole stack runs, latency
# behind ingress's backlogs, the drain with the live normaliser stopped, then Adobe's ingress
# (a repeated signed body, so without the normaliser) against the ingress baseline, the cold
# starts, and the in-process in-handler cost. A scenario may own more than one step.
STEPS: list[tuple[str, Step]] = [
    ("ingress", ingress.run),
    ("latency", latency.run),
    ("pagerduty", pagerduty.run),
    ("drain", drain.run),
    ("ingress", ingress.run_adobe),
    ("cold-start", cold_start.run),
    ("in-handler", in_handler.run),
]
SCENARIOS = list(dict.fromkeys(name for name, _ in STEPS))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIOS,
        help="run only these scenarios, always in the order shown (default: all)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat the selection this many times (fresh stack each, alternating who goes"
        " first) and print each row's median ratio with its spread (default: 1)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the results (default: bench/results/latest.json)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = set(args.only or SCENARIOS)
    if "ingress" in selected and shutil.which("wrk") is None:  # before any stack starts
        print(
            "bench: the ingress scenario drives wrk, which is not on PATH: install it"
            " (apt-get install -y wrk) or leave ingress out with --only",
            file=sys.stderr,
        )
        return 2
    seconds = 4 if args.quick else 10
    backlog = 2_000 if args.quick else 20_000
    print(
        f"alertbridge bench ({'quick' if args.quick else 'full'}, {args.runs} run(s)) on"
        f" {os.cpu_count()} cores",
        flush=True,
    )
    reports: list[Report] = []
    for round_ in range(args.runs):
        if args.runs > 1:
            print(f"\n== run {round_ + 1} of {args.runs} ==", flush=True)
        report = Report()
        report.extra["machine"] = {"cores": os.cpu_count(), "python": platform.python_version()}
        if args.only:
            report.extra["scenarios"] = [name for name in SCENARIOS if name in selected]
        stack = Stack()
        ctx = Context(stack, report, seconds, backlog, round=round_)
        try:
            for name, step in STEPS:
                if name in selected:
                    step(ctx)
        finally:
            stack.stop()
        print("\n" + report.table(), flush=True)
        reports.append(report)

    result = reports[0].as_json()
    if args.runs > 1:
        summary, rows = summarise_runs(reports)
        print(f"\nmedian of {args.runs} runs (ratio spread = min-max over the runs)\n" + summary)
        result = {"runs": [r.as_json() for r in reports], "summary": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
