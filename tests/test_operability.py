"""/health, /metrics, /metrics/prometheus, per-tenant rate limits and the OpenAPI contract."""

from __future__ import annotations

import time
from typing import Any

import functions_framework
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertbridge import runtime as runtime_mod
from alertbridge.auth.tokens import Keyring, issue_token
from alertbridge.ratelimit import TokenBuckets
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.tenants import Tenants
from alertbridge_dev.devstack import provision
from alertbridge_dev.emulator import Emulator, wait_until
from conftest import ROOT, TopicWatch, subtask_body, token_for

PATH = "/analytics-environment/v1/job-pub-sub-messages"
MAIN = str(ROOT / "functions" / "main.py")


def post(client: Any, token: str, tenant: str = "4242", **overrides: Any) -> Any:
    body = subtask_body(tenantId=int(tenant), **overrides)
    return client.post(
        PATH, json=body, headers={"Tenant-ID": tenant, "Authorization": f"Bearer {token}"}
    )


def test_health_goes_starting_ready_down_ready_against_the_emulator(
    own_emulator: Emulator, tenants: Tenants
) -> None:
    provision(own_emulator.host, "health", tenants)
    rt = Runtime(
        Settings(project_id="health", publish_timeout_s=1.0),
        tenants,
        Keyring.generate(),
        own_emulator.host,
    )
    runtime_mod.set_runtime(rt)
    try:
        client = functions_framework.create_app(target="subtask", source=MAIN).test_client()
        first = client.get("/health")
        assert first.status_code == 503 and first.get_json()["status"] == "starting"
        assert first.headers["Retry-After"]

        def status() -> int:
            return int(client.get("/health").status_code)

        assert wait_until(lambda: status() == 200, 15)
        body = client.get("/health").get_json()
        assert body["checks"]["pubsub"]["state"] == "reachable"
        assert body["checks"]["tenants"]["count"] == 2 and body["checks"]["signing_keys"]["ok"]
        assert body["last_successful_publish"] == 0
        token, _ = issue_token(rt.keyring, "acme-etl", ["4242"])  # type: ignore[arg-type]
        assert post(client, token).status_code == 202
        assert client.get("/health").get_json()["last_successful_publish"] >= int(time.time()) - 5

        own_emulator.stop()
        started = time.monotonic()
        assert wait_until(lambda: status() == 503, 20)
        assert time.monotonic() - started < 20
        down = client.get("/health")
        assert down.get_json()["checks"]["pubsub"]["state"] == "unreachable"
        t0 = time.monotonic()
        client.get("/health")
        assert time.monotonic() - t0 < 0.5, "health must answer from the last known state"

        own_emulator.start()
        provision(own_emulator.host, "health", tenants)
        assert wait_until(lambda: status() == 200, 20)
    finally:
        runtime_mod.set_runtime(None)
        rt.close()


def test_token_function_is_ready_without_pubsub(runtime: Runtime) -> None:
    client = functions_framework.create_app(target="token", source=MAIN).test_client()
    response = client.get("/health")
    assert response.status_code == 200 and "pubsub" not in response.get_json()["checks"]


def test_metrics_move_as_requests_are_made_and_prometheus_text_parses(
    client: Any, runtime: Runtime
) -> None:
    before = client.get("/metrics").get_json()
    token = token_for(client)
    assert post(client, token).status_code == 202
    assert post(client, token, envId=0).status_code == 400
    assert post(client, "bad").status_code == 401
    after = client.get("/metrics").get_json()
    assert after["query_count"] - before["query_count"] == 4  # token + three posts
    assert after["bad_request_count"] - before["bad_request_count"] == 2
    assert (
        after["published"]["liveramp.subtask"] == before["published"].get("liveramp.subtask", 0) + 1
    )
    assert after["rejected"]["liveramp.subtask"] == 2
    assert 0 < after["request_latency_50_percentile"] <= after["request_latency_99_percentile"]

    text = client.get("/metrics/prometheus").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["query_count"].type == "gauge"  # named and typed as in seed 001
    assert families["query_count"].samples[0].value == after["query_count"] + 0
    assert families["request_latency_99_percentile"].samples[0].value == pytest.approx(
        after["request_latency_99_percentile"], rel=0.5
    )
    published = {
        s.labels["source"]: s.value
        for s in families["published"].samples
        if s.name == "published_total"
    }
    assert published["liveramp.subtask"] == 1


@pytest.fixture
def frozen_limits(runtime: Runtime) -> TokenBuckets:
    """Rate-limit buckets on a clock that stands still: no refill while the test loops.

    Requests take real time (scrypt alone ~60 ms on a token request), so on the wall clock
    the buckets refill a little during a loop and the counts below would drift.
    """
    runtime.limits = TokenBuckets(clock=lambda: 1_000.0)
    return runtime.limits


def test_noisy_tenant_gets_429_while_the_other_is_still_accepted(
    client: Any, runtime: Runtime, ingest: TopicWatch, frozen_limits: TokenBuckets
) -> None:
    acme, globex = token_for(client, "4242"), token_for(client, "5151")
    statuses = [post(client, acme, envId=0).status_code for _ in range(120)]  # 400s, no publish
    # burst 100 in the example tenants file: the first 100 are judged (400), the rest refused
    assert statuses == [400] * 100 + [429] * 20, statuses
    limited = post(client, acme)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"] == "rate_limited"
    assert post(client, globex, "5151").status_code == 202
    assert [m.attributes["tenant_id"] for m in ingest.pull(1)] == ["5151"]


def test_token_endpoint_brute_force_is_throttled_before_hashing(
    client: Any, runtime: Runtime, frozen_limits: TokenBuckets
) -> None:
    form = {"grant_type": "password", "username": "acme-etl", "password": "guess"}
    statuses = [client.post("/authn/v1/oauth2/token", data=form).status_code for _ in range(7)]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    throttled = client.post("/authn/v1/oauth2/token", data=dict(form, password="acme-demo-secret"))
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert throttled.get_json()["error"] == "slow_down"
    other = client.post(
        "/authn/v1/oauth2/token",
        data={"grant_type": "password", "username": "globex-etl", "password": "globex-demo-secret"},
    )
    assert other.status_code == 200


def test_per_client_address_limit(
    client: Any, runtime: Runtime, frozen_limits: TokenBuckets
) -> None:
    form = {"grant_type": "password", "username": "nobody", "password": "x"}
    headers = {"X-Forwarded-For": "203.0.113.9"}
    statuses = [
        client.post(
            "/authn/v1/oauth2/token", data=dict(form, username=f"u{i}"), headers=headers
        ).status_code
        for i in range(32)
    ]
    assert statuses == [400] * 30 + [429] * 2
    assert (
        client.post(
            "/authn/v1/oauth2/token", data=form, headers={"X-Forwarded-For": "198.51.100.1"}
        ).status_code
        == 400
    )
