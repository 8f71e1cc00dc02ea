"""5. In-handler cost of the sub-task endpoint: auth + validation + envelope, no publish,
against a fixed 1.5 ms budget (no process, no emulator: it runs in this interpreter)."""

from __future__ import annotations

import json
import time

from bench.harness import SUBTASK, Row, percentile, subtask_body
from bench.stack import Context


def run(ctx: Context) -> None:
    print("5. in-handler cost (auth + validation + envelope, no publish)", flush=True)
    handler_ms = in_handler_p99(ctx)
    ctx.report.add(
        Row(
            "in-handler p99 (ms)",
            handler_ms["p99"],
            1.5,
            "ms",
            "<= 1.5 ms",
            handler_ms["p99"] <= 1.5,
            f"p50 {handler_ms['p50']:.3f} ms",
        )
    )
    ctx.report.extra["in_handler_ms"] = handler_ms


def in_handler_p99(ctx: Context) -> dict[str, float]:
    from flask import Flask, request

    from alertbridge.auth.tokens import issue_token
    from alertbridge.bodies import parse_object, read_body
    from alertbridge.runtime import Runtime
    from alertbridge.settings import Settings
    from alertbridge.sources.common import authorize, envelope
    from alertbridge.sources.subtask import adapter as subtask

    keyring = ctx.stack.keyring
    runtime = Runtime(Settings(project_id="bench"), ctx.stack.tenants, keyring)
    token, _ = issue_token(keyring, "acme-etl", ["4242"])
    app = Flask("bench")
    headers = {
        "Tenant-ID": "4242",
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
    }
    times = []
    for i in range(5000):
        body = json.dumps(subtask_body(i)).encode()
        with app.test_request_context(SUBTASK, method="POST", data=body, headers=headers):
            t0 = time.perf_counter_ns()
            claims, tenant_id = authorize(runtime, request)
            raw = read_body(request, runtime.settings.max_body_bytes)
            fields = parse_object(raw, request.content_type, allow_form=True)
            subtask.check_request(fields, tenant_id)
            envelope(
                subtask.SOURCE, raw, "r", "application/json", tenant_id, claims.subject
            ).attributes()
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return {"p50": percentile(times, 50), "p99": percentile(times, 99), "n": float(len(times))}
