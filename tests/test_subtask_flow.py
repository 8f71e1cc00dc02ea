"""Sub-task messages from token to tenant topic, on the real emulator."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import requests

from alertbridge.pipeline.envelope import normalized_inline
from alertbridge.pipeline.normalize import handle_message
from alertbridge.pubsub import EMULATOR_ORDERING_BUCKETS, ordering_key_for
from alertbridge.runtime import Runtime
from conftest import ROOT, TopicWatch, subtask_body, token_for

ALERT_SCHEMA = json.loads((ROOT / "schemas" / "alert.v1.json").read_text())
PATH = "/analytics-environment/v1/job-pub-sub-messages"


def post(client: Any, body: Any, token: str, tenant: str = "4242", **kw: Any) -> Any:
    return client.post(
        PATH, json=body, headers={"Tenant-ID": tenant, "Authorization": f"Bearer {token}"}, **kw
    )


def normalise_all(runtime: Runtime, ingest: TopicWatch, count: int) -> None:
    """Run the normaliser over what reached the ingest topic, as the worker would: what
    the ingress normalised inline its subscription filters out."""
    for message in ingest.pull(count):
        if not normalized_inline(message.attributes):
            handle_message(runtime, message.data, message.attributes)


def test_seed_example_with_host_changed_lands_alert_on_tenant_topic(
    live_server: str, runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    acme, globex = watch("alerts-4242"), watch("alerts-5151")
    # The seed's Python examples, verbatim but for the host and the placeholders.
    url = f"{live_server}/authn/v1/oauth2/token"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    data = {
        "grant_type": "password",
        "username": "acme-etl",
        "password": "acme-demo-secret",
        "scope": "openid",
        "client_id": "liveramp-api",
        "response_type": "token",
    }
    response = requests.post(url, headers=headers, data=data)
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1800
    assert token["scope"] == "liveramp-api"

    url = f"{live_server}/analytics-environment/v1/job-pub-sub-messages"
    headers = {
        "Content-Type": "application/json",
        "Tenant-ID": "4242",
        "Authorization": f"Bearer {token['access_token']}",
    }
    data = {
        "jobId": "job-seed",
        "pipeId": 1,
        "stepId": 1,
        "operationId": 1,
        "gitVersion": "v1.0.0",
        "timestamp": "2026-11-25 10:00:00",
        "stepCode": 1,
        "msgCode": 5,
        "tenantId": 4242,
        "envId": 1,
        "placeholder1": 1,
        "placeholder2": 1,
    }
    response = requests.post(url, headers=headers, data=data)  # form body under a JSON header
    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]

    normalise_all(runtime, ingest, 1)
    (landed,) = acme.pull(1)
    alert = landed.json()
    jsonschema.validate(alert, ALERT_SCHEMA)
    assert alert["tenant_id"] == "4242" and alert["request_id"] == request_id
    assert alert["status"] == "firing" and alert["severity"] == "error"
    assert landed.attributes["ce-specversion"] == "1.0"
    assert landed.attributes["ce-id"] == alert["id"]
    assert landed.attributes["ce-type"] == "dev.alertbridge.alert.v1.firing"
    assert landed.attributes["content-type"] == "application/json"
    assert landed.attributes["dedup_key"] == alert["dedup_key"]
    assert landed.ordering_key == ordering_key_for(alert["dedup_key"], EMULATOR_ORDERING_BUCKETS)
    assert {landed.attributes[k] for k in ("tenant_id", "source", "status", "severity")} == {
        "4242",
        "liveramp.subtask",
        "firing",
        "error",
    }
    assert globex.quiet(1.0) == []


def test_redelivered_ingest_message_yields_the_same_alert_id(
    client: Any, runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    acme = watch("alerts-4242")
    assert post(client, subtask_body(), token_for(client)).status_code == 202
    (message,) = ingest.pull(1)
    first = handle_message(runtime, message.data, message.attributes)
    second = handle_message(runtime, message.data, message.attributes)
    assert [a.id for a in first.alerts] == [a.id for a in second.alerts]
    landed = acme.pull(2)
    assert len({m.json()["id"] for m in landed}) == 1


def test_unknown_tenant_is_dead_lettered_with_reason_and_original_bytes(
    runtime: Runtime, dead_letters: TopicWatch
) -> None:
    raw = json.dumps(subtask_body(tenantId=9999)).encode()
    attributes = {
        "source": "liveramp.subtask",
        "request_id": "r1",
        "tenant_id": "9999",
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
    }
    outcome = handle_message(runtime, raw, attributes, "m-1")
    assert outcome.dead_letter_reason == "unroutable"
    (dead,) = dead_letters.pull(1)
    assert dead.data == raw
    assert dead.attributes["dead_letter_reason"] == "unroutable"
    assert "9999" in dead.attributes["dead_letter_detail"]
    assert dead.attributes["original_message_id"] == "m-1"


def test_garbage_ingest_message_is_dead_lettered_not_lost(
    runtime: Runtime, dead_letters: TopicWatch
) -> None:
    outcome = handle_message(runtime, b"\xff\xfe not json", {"source": "liveramp.subtask"}, "m-2")
    assert outcome.dead_letter_reason == "not_an_envelope"
    (dead,) = dead_letters.pull(1)
    assert dead.data == b"\xff\xfe not json"


def test_second_tenant_sees_nothing_of_the_first(
    client: Any, runtime: Runtime, ingest: TopicWatch, watch: Any
) -> None:
    globex = watch("alerts-5151")
    acme = watch("alerts-4242")
    assert post(client, subtask_body(), token_for(client)).status_code == 202
    normalise_all(runtime, ingest, 1)
    assert len(acme.pull(1)) == 1
    assert globex.quiet(1.0) == []


def test_schema_file_matches_the_model() -> None:
    from alertbridge import alert, tenants

    assert json.loads((ROOT / "schemas" / "alert.v1.json").read_text()) == alert.json_schema()
    assert (
        json.loads((ROOT / "schemas" / "tenants.schema.json").read_text()) == tenants.json_schema()
    )
