"""What every scenario shares: the payloads it sends, the statistics, and the report rows
(each figure with its ratio against the baseline measured in the same run)."""

from __future__ import annotations

import copy
import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "functions") not in sys.path:
    sys.path.insert(0, str(ROOT / "functions"))

import yaml  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SUBTASK = "/analytics-environment/v1/job-pub-sub-messages"
INFORMATICA = "/informatica/v1/events"
ADOBE = "/adobe/v1/flow-run-notifications"
CIH_SEED: dict[str, Any] = json.loads(
    (ROOT / "tests" / "fixtures" / "informatica_seed_event.json").read_text()
)
ADOBE_SAMPLES: dict[str, Any] = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)


def subtask_body(i: int, tenant: str = "4242") -> dict[str, Any]:
    return {
        "jobId": f"job-bench-{i}",
        "pipeId": i + 1,
        "stepId": 1 + i % 9,
        "operationId": 1 + i % 19,
        "gitVersion": "v1.2.3",
        "timestamp": "2026-11-25 01:02:03",
        "stepCode": 1,
        "msgCode": 1 + i % 254,
        "tenantId": int(tenant),
        "envId": 1,
        "placeholder1": 1,
        "placeholder2": 1,
    }


def cih_event(i: int) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(CIH_SEED)
    event["eventId"], event["childEvents"][0]["eventId"] = 10_000_000 + i, 20_000_000 + i
    event["pubSubName"] = f"Pub{i}"
    event["childEvents"][0]["pubSubName"] = f"Sub{i}"  # distinct dedup keys, as in real traffic
    return event


def adobe_event(i: int) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(ADOBE_SAMPLES["failure"][0]["messages"][0])
    event["value"]["flowId"], event["value"]["id"] = f"flow-{i}", f"run-{i}"
    return event


def bench_tenants(path: Path) -> Path:
    """The example tenants without notify destinations or expectations (no notifier
    subscription collecting what only the PagerDuty scenario reads) and with limits lifted:
    the bench measures throughput, not the rate limiter."""
    data = yaml.safe_load((ROOT / "config" / "tenants.example.yaml").read_text())
    for tenant in data["tenants"]:
        tenant.pop("notify", None)
        tenant.pop("expectations", None)
        tenant["rate_limit"] = {"requests_per_second": 1_000_000, "burst": 1_000_000}
    path.write_text(yaml.safe_dump(data))
    return path


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(ours: float, base: float) -> float:
    return ours / base if base else float("nan")


@dataclass
class Row:
    name: str
    ours: float
    baseline: float
    unit: str
    goal: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return ratio(self.ours, self.baseline)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"  {row.name}: ours {row.ours:,.1f} {row.unit}, baseline {row.baseline:,.1f}"
            f" -> ratio {row.ratio:.2f} (goal {row.goal}: {'met' if row.met else 'NOT met'})",
            flush=True,
        )

    def table(self) -> str:
        lines = [
            "| benchmark | ours | baseline | ratio | goal | met |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name} | {r.ours:,.1f} {r.unit} | {r.baseline:,.1f} {r.unit} | "
                f"{r.ratio:.2f} | {r.goal} | {'yes' if r.met else 'no'} |"
            )
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"rows": [r.__dict__ | {"ratio": r.ratio} for r in self.rows], **self.extra}


GOAL = re.compile(r"^(<=|>=) ([\d.]+)( MiB| ms)?")


def judge(goal: str, ours: float, ratio_: float) -> bool:
    """A goal as the rows spell it: a bare number bounds the ratio ("<= 0.8", "<= 1.5 x
    no-op"), a number with a unit bounds our own figure ("<= 200 MiB"); "-" has no goal."""
    match = GOAL.match(goal)
    if match is None:
        return True
    op, bound, unit = match.group(1), float(match.group(2)), match.group(3)
    value = ours if unit else ratio_
    return value <= bound if op == "<=" else value >= bound


def summarise_runs(reports: list[Report]) -> tuple[str, list[dict[str, Any]]]:
    """Per row (by name, in the first run's order): the median of ours, of the baseline and
    of the ratio, the ratio's spread over the runs, and the goal judged on the medians."""
    by_name: dict[str, list[Row]] = {}
    for report in reports:
        for row in report.rows:
            by_name.setdefault(row.name, []).append(row)
    lines = [
        "| benchmark | ours (median) | baseline (median) | ratio (median) | ratio spread | goal"
        " | met |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: list[dict[str, Any]] = []
    for name, runs in by_name.items():
        ours = statistics.median(r.ours for r in runs)
        base = statistics.median(r.baseline for r in runs)
        ratios = [r.ratio for r in runs]
        mid = statistics.median(ratios)
        goal, unit = runs[0].goal, runs[0].unit
        met = judge(goal, ours, mid)
        lines.append(
            f"| {name} | {ours:,.1f} {unit} | {base:,.1f} {unit} | {mid:.2f} |"
            f" {min(ratios):.2f}-{max(ratios):.2f} | {goal} |"
            f" {'-' if goal == '-' else 'yes' if met else 'no'} |"
        )
        rows.append(
            {
                "name": name,
                "ours": ours,
                "baseline": base,
                "ratio": mid,
                "ratios": ratios,
                "goal": goal,
                "met": met,
                "runs": len(runs),
            }
        )
    return "\n".join(lines), rows
