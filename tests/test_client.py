"""The sender's client against the real app: one token fetched and reused, refreshed a minute
before expires_in runs out, refreshed once on a 401, Retry-After honoured on 429/503."""

from __future__ import annotations

import time
from typing import Any

import pytest

from alertbridge.auth.tokens import Keyring
from alertbridge.runtime import Runtime
from alertbridge_dev.client import SendError, SubTaskClient
from conftest import TopicWatch, subtask_body


def test_token_is_reused_then_refreshed_before_expiry(
    live_server: str, runtime: Runtime, ingest: TopicWatch
) -> None:
    client = SubTaskClient(live_server, "acme-etl", "acme-demo-secret", "4242")
    first = client.token()
    assert client.token() == first  # reused while valid
    for i in range(3):
        assert client.send(subtask_body(jobId=f"job-c{i}"))["status"] == "accepted"
    assert client.token() == first
    client._expires_at = time.time() + 30  # within the refresh margin (60 s)
    assert client.token() != first
    assert len(ingest.pull(3)) == 3


def test_a_401_refreshes_the_token_once_and_retries(
    live_server: str, runtime: Runtime, ingest: TopicWatch
) -> None:
    client = SubTaskClient(live_server, "acme-etl", "acme-demo-secret", "4242")
    client.token()
    assert runtime.keyring is not None
    runtime.keyring = Keyring.generate("k9")  # the key that signed the client's token retired
    assert client.send(subtask_body())["status"] == "accepted"
    assert len(ingest.pull(1)) == 1


def test_bad_input_is_not_retried_and_raises_with_the_error_body(
    live_server: str, runtime: Runtime
) -> None:
    client = SubTaskClient(live_server, "acme-etl", "acme-demo-secret", "4242")
    with pytest.raises(SendError) as caught:
        client.send(subtask_body(envId=0))
    assert caught.value.status == 400
    assert caught.value.body["details"][0]["field"] == "envId"


def test_wrong_secret_raises_invalid_grant(live_server: str, runtime: Runtime) -> None:
    client = SubTaskClient(live_server, "acme-etl", "nope", "4242")
    with pytest.raises(SendError) as caught:
        client.token()
    assert caught.value.status == 400 and caught.value.body["error"] == "invalid_grant"
    assert "nope" not in repr(client)


def test_rate_limited_sends_wait_for_retry_after_and_succeed(
    live_server: str, runtime: Runtime, ingest: TopicWatch
) -> None:
    import yaml

    from alertbridge.tenants import parse_tenants
    from conftest import EXAMPLE_TENANTS

    data: dict[str, Any] = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    data["tenants"][0]["rate_limit"] = {"requests_per_second": 2, "burst": 1}
    runtime.tenants = parse_tenants(data)
    client = SubTaskClient(live_server, "acme-etl", "acme-demo-secret", "4242")
    started = time.monotonic()
    for i in range(3):
        client.send(subtask_body(jobId=f"job-r{i}"))
    assert time.monotonic() - started >= 0.9  # two of them waited for Retry-After (1 s)
    assert len(ingest.pull(3)) == 3
