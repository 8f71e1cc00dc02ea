"""Adobe flow-run webhooks: handshake, signatures against a local key server, both seed
shapes, batches, unknown orgs, and resolve by run order on the Firestore emulator."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alertbridge.pipeline.envelope import IngestEnvelope, normalized_inline
from alertbridge.pipeline.normalize import handle_message
from alertbridge.pipeline.runorder import decide
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings
from alertbridge.sources import AdapterError, UnroutableError
from alertbridge.sources.adobe import adapter as adobe
from alertbridge.sources.adobe.signature import PublicKeyCache
from alertbridge.state import StateStore
from alertbridge.tenants import load_tenants
from alertbridge_dev.adobe_keys import KeyServer, SigningKey, signed_headers
from conftest import EXAMPLE_TENANTS, ROOT, TopicWatch

PATH = "/adobe/v1/flow-run-notifications"
FIX = ROOT / "tests" / "fixtures"
SEED_SUCCESS = json.loads((FIX / "adobe_seed_success.json").read_text())
SEED_FAILURE = json.loads((FIX / "adobe_seed_failure.json").read_text())
SAMPLES = json.loads(
    (ROOT / "functions/alertbridge/sources/adobe/samples/flow_runs.json").read_text()
)
ACME_ORG = "ACME0000000000000000000A@AdobeOrg"
# The demo's samples are addressed to this client id, as Adobe addresses every delivery.
CLIENT_ID = "alertbridge-demo-client"
TENANTS = load_tenants(EXAMPLE_TENANTS)


@pytest.fixture
def key(key_server: KeyServer) -> SigningKey:
    return key_server.publish(SigningKey())


@pytest.fixture
def adobe_runtime(runtime: Runtime, key_server: KeyServer) -> Runtime:
    runtime.settings = dataclasses.replace(
        runtime.settings, adobe_key_host=key_server.url, adobe_client_id=CLIENT_ID
    )
    return runtime


def deliver(client: Any, payload: Any, key: SigningKey, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(PATH, data=body, headers={**signed_headers(body, key), **headers})


def parse_one(event: Any) -> Any:
    env = IngestEnvelope(
        json.dumps(event).encode(), adobe.SOURCE, "r1", datetime(2026, 1, 1, tzinfo=UTC)
    )
    (alert,) = adobe.parse(env, TENANTS)
    return alert


# ---- the adapter on the seed's payloads -------------------------------------------------


def test_seed_failure_is_a_critical_alert_with_codes_extension_error_and_manifest() -> None:
    alert = parse_one(SAMPLES["failure"][0]["messages"][0])
    assert (alert.status, alert.severity, alert.tenant_id) == ("firing", "critical", "4242")
    assert alert.dedup_key == "adobe.flow_run:4242:prod:cf4fce79-8822-456d-8fce-798822556dc6"
    assert {(e.code, e.scope) for e in alert.errors} >= {
        ("CONNECTOR-2001-500", None),
        ("CONNECTOR-2001-500", "promotionActivity"),
        ("133", "promotionActivity"),
    }
    assert "processed to Platform" in alert.summary and "133" in alert.summary
    assert alert.summary.endswith("record counts not reported")  # the seed gives none
    assert alert.links[0].href.startswith("https://platform-stage.adobe.io/data/foundation/export/")
    assert alert.metrics.bytes_read is None and alert.metrics.files_read is None  # -1 = unknown
    assert alert.labels["eventCode"] == "sources_flow_run_failed"
    assert alert.id == adobe.alert_id(
        adobe.SOURCE, "d9024c32-2174-4271-824c-322174627101", "firing"
    )


def test_seed_success_is_a_resolve_with_counts() -> None:
    event = copy.deepcopy(SEED_SUCCESS)
    event["event"]["imsOrgId"] = ACME_ORG
    alert = parse_one(event)
    assert (alert.status, alert.severity) == ("resolved", "info")
    assert alert.metrics.records_read == 100 and alert.metrics.records_written == 70
    assert alert.metrics.bytes_read == 2048 and alert.metrics.files_written == 10
    assert alert.links[0].href.endswith("meta?path=input_files")


def test_copy_error_is_described_as_copying_from_the_source() -> None:
    event = copy.deepcopy(SAMPLES["failure"][0]["messages"][0])
    event["value"]["metrics"]["statusSummary"]["errors"][0]["code"] = "CONNECTOR-1001-500"
    assert "copied from the source" in parse_one(event).summary


def test_success_that_carried_errors_is_a_warning() -> None:
    event = copy.deepcopy(SAMPLES["success"])
    event["event"]["activities"][0]["statusSummary"]["errors"] = [
        {"code": "E1", "message": "3 rows"}
    ]
    alert = parse_one(event)
    assert (alert.status, alert.severity) == ("firing", "warning")
    assert "below the flow's threshold" in alert.summary


def test_failure_that_wrote_records_is_an_error_not_critical() -> None:
    event = copy.deepcopy(SAMPLES["failure"][0]["messages"][0])
    event["value"]["metrics"]["recordSummary"] = {"inputRecordCount": 10, "outputRecordCount": 4}
    assert parse_one(event).severity == "error"


def test_unknown_org_is_unroutable_and_bad_events_unparseable() -> None:
    with pytest.raises(UnroutableError):
        parse_one(SEED_FAILURE[0]["messages"][0])  # {ORG_ID}: nobody owns it
    with pytest.raises(AdapterError):
        parse_one({"hello": "world"})


# ---- resolve by run order (pure decision) -----------------------------------------------


def test_run_order_decisions() -> None:
    failure = parse_one(SAMPLES["failure"][0]["messages"][0])
    later_success = parse_one(SAMPLES["success"])
    assert decide(None, failure) == (
        True,
        {
            "run_started": failure.occurred_at.isoformat(),
            "status": "firing",
            "alert_id": failure.id,
        },
    )
    after_failure = decide(None, failure)[1]
    assert decide(after_failure, later_success)[0] is True
    after_success = decide(after_failure, later_success)[1]
    assert decide(after_success, failure) == (False, None)  # late older failure
    assert decide(after_failure, failure)[0] is True  # redelivery of the same run


# ---- the HTTP edge --------------------------------------------------------------------------


def test_challenge_is_echoed_as_adobe_requires(client: Any, adobe_runtime: Runtime) -> None:
    response = client.get(PATH, query_string={"challenge": "8ec8d794-e0ab-42df"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {"challenge": "8ec8d794-e0ab-42df"}
    assert client.get(PATH).status_code == 400


def test_signed_seed_failure_lands_on_the_tenant_topic_and_a_later_success_resolves_it(
    client: Any,
    adobe_runtime: Runtime,
    key: SigningKey,
    ingest: TopicWatch,
    watch: Any,
    state: StateStore,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    assert deliver(client, SAMPLES["failure"], key).status_code == 200
    assert deliver(client, SAMPLES["success"], key).status_code == 200
    for message in ingest.pull(2):
        if not normalized_inline(message.attributes):  # as the normaliser's subscription
            handle_message(adobe_runtime, message.data, message.attributes)
    alerts = sorted((m.json() for m in acme.pull(2)), key=lambda a: a["occurred_at"])
    assert [a["status"] for a in alerts] == ["firing", "resolved"]
    assert alerts[0]["dedup_key"] == alerts[1]["dedup_key"]
    assert alerts[0]["severity"] == "critical"


def test_a_late_older_failure_does_not_reopen_what_a_newer_success_resolved(
    adobe_runtime: Runtime, watch: Any, state: StateStore
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    attrs = {
        "source": adobe.SOURCE,
        "request_id": "r",
        "received_at": "2026-11-25T00:00:00Z",
        "content_type": "application/json",
    }
    success = json.dumps(SAMPLES["success"]).encode()
    failure = json.dumps(SAMPLES["failure"][0]["messages"][0]).encode()
    assert len(handle_message(adobe_runtime, success, attrs).alerts) == 1
    assert handle_message(adobe_runtime, failure, attrs).alerts == []
    (only,) = acme.quiet(1.0)
    assert only.json()["status"] == "resolved"
    assert state.get("run-order", only.json()["dedup_key"])["status"] == "resolved"  # type: ignore[index]


@pytest.mark.parametrize(
    "case", ["tampered", "wrong key", "missing headers", "off-host path", "bad base64"]
)
def test_unverified_deliveries_get_401_and_publish_nothing(
    client: Any,
    adobe_runtime: Runtime,
    key: SigningKey,
    key_server: KeyServer,
    ingest: TopicWatch,
    case: str,
) -> None:
    body = json.dumps(SAMPLES["failure"]).encode()
    headers = signed_headers(body, key)
    if case == "tampered":
        body = body.replace(b"CONNECTOR-2001-500", b"CONNECTOR-1001-500")
    elif case == "wrong key":
        headers = signed_headers(body, SigningKey())  # its key path is not on the server
        other = key_server.publish(SigningKey())
        headers["x-adobe-public-key1-path"] = headers["x-adobe-public-key2-path"] = other.path
    elif case == "missing headers":
        headers = {"Content-Type": "application/json"}
    elif case == "off-host path":
        headers["x-adobe-public-key1-path"] = headers["x-adobe-public-key2-path"] = (
            "/../../evil.example/keys/pub-key-1.pem"
        )
    elif case == "bad base64":
        headers["x-adobe-digital-signature-1"] = headers["x-adobe-digital-signature-2"] = "%%%"
    response = client.post(PATH, data=body, headers=headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_signature"
    assert ingest.quiet(1.0) == []


# ---- the recipient: a valid signature proves only that Adobe sent it ------------------------


def addressed(payload: Any, recipient: Any, spelling: str = "recipient_client_id") -> Any:
    """The delivery as Adobe addresses it: each top-level event names its recipient client."""
    out = copy.deepcopy(payload)
    for item in out if isinstance(out, list) else [out]:
        item.pop("recipient_client_id", None)
        item[spelling] = recipient
    return out


def unaddressed(payload: Any) -> Any:
    out = copy.deepcopy(payload)
    for item in out if isinstance(out, list) else [out]:
        item.pop("recipient_client_id", None)
        item.pop("recipientclientid", None)
    return out


@pytest.mark.parametrize("spelling", ["recipient_client_id", "recipientclientid"])
@pytest.mark.parametrize("sample", ["success", "failure"])
def test_a_signed_event_addressed_to_another_client_is_refused_and_publishes_nothing(
    client: Any,
    adobe_runtime: Runtime,
    key: SigningKey,
    ingest: TopicWatch,
    spelling: str,
    sample: str,
) -> None:
    response = deliver(client, addressed(SAMPLES[sample], "someone-else", spelling), key)
    assert response.status_code == 403, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "wrong_recipient"
    (detail,) = body["details"]
    assert detail["field"] == ("body[0]." if sample == "failure" else "body.") + spelling
    assert detail["rule"] == "must equal this webhook's client id (ALERTBRIDGE_ADOBE_CLIENT_ID)"
    assert ingest.quiet(1.0) == []


def test_one_forged_member_refuses_the_whole_batch(
    client: Any, adobe_runtime: Runtime, key: SigningKey, ingest: TopicWatch
) -> None:
    ours = addressed(SAMPLES["failure"][0], CLIENT_ID)
    inner = copy.deepcopy(ours)  # the wrapper is ours, the message inside it is not
    inner["messages"][0]["recipient_client_id"] = "someone-else"
    for batch, field in (
        ([ours, addressed(SAMPLES["success"], "someone-else")], "body[1].recipient_client_id"),
        ([ours, inner], "body[1].messages[0].recipient_client_id"),
        ([addressed(SAMPLES["success"], 42)], "body[0].recipient_client_id"),
    ):
        response = deliver(client, batch, key)
        assert response.status_code == 403, response.get_data(as_text=True)
        assert response.get_json()["details"][0]["field"] == field
    assert ingest.quiet(1.0) == []


def test_an_event_without_a_recipient_is_refused_unless_the_operator_opts_in(
    client: Any, adobe_runtime: Runtime, key: SigningKey, ingest: TopicWatch
) -> None:
    # a recipient in a header is not covered by the signature, so it proves nothing
    response = deliver(
        client, unaddressed(SAMPLES["success"]), key, **{"ce-recipientclientid": CLIENT_ID}
    )
    assert response.status_code == 403, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "missing_recipient"
    assert body["details"][0]["field"] == "body.recipient_client_id"
    assert body["details"][0]["rule"].startswith("required")
    assert ingest.quiet(1.0) == []
    adobe_runtime.settings = dataclasses.replace(
        adobe_runtime.settings, adobe_allow_missing_recipient=True
    )
    assert deliver(client, unaddressed(SAMPLES["success"]), key).status_code == 200
    # opting in to a missing recipient never lets a wrong one through
    wrong = deliver(client, addressed(SAMPLES["success"], "someone-else"), key)
    assert wrong.status_code == 403
    assert len(ingest.quiet(1.0)) == 1


def test_the_opt_in_is_off_unless_the_environment_says_true(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT", raising=False)
    assert Settings.from_env().adobe_allow_missing_recipient is False
    for value, expected in (("true", True), ("1", True), ("false", False), ("", False)):
        monkeypatch.setenv("ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT", value)
        assert Settings.from_env().adobe_allow_missing_recipient is expected


@pytest.mark.parametrize("spelling", ["recipient_client_id", "recipientclientid"])
def test_events_addressed_to_us_are_accepted_in_either_spelling(
    client: Any, adobe_runtime: Runtime, key: SigningKey, ingest: TopicWatch, spelling: str
) -> None:
    for sample in ("success", "failure"):
        response = deliver(client, addressed(SAMPLES[sample], CLIENT_ID, spelling), key)
        assert response.status_code == 200, response.get_data(as_text=True)
    assert len(ingest.pull(2)) == 2


def test_either_signature_suffices(
    client: Any, adobe_runtime: Runtime, key: SigningKey, ingest: TopicWatch
) -> None:
    body = json.dumps(SAMPLES["success"]).encode()
    headers = signed_headers(body, key)
    headers["x-adobe-digital-signature-1"] = SigningKey().sign(body)  # first one is wrong
    assert client.post(PATH, data=body, headers=headers).status_code == 200
    assert len(ingest.pull(1)) == 1


def test_keys_are_cached_and_refetched_after_the_ttl(key_server: KeyServer) -> None:
    now = [1000.0]
    cache = PublicKeyCache(key_server.url, ttl_s=60, clock=lambda: now[0])
    key = key_server.publish(SigningKey())
    cache.get(key.path)
    cache.get(key.path)
    assert key_server.hits[key.path] == 1
    rotated = SigningKey()
    key_server.keys[key.path] = rotated.public_pem()  # Adobe rotated the key behind the path
    now[0] += 61
    fresh = cache.get(key.path)
    assert key_server.hits[key.path] == 2
    assert fresh.public_numbers() == rotated.private.public_key().public_numbers()


def test_key_host_down_is_503_so_adobe_retries(
    client: Any, adobe_runtime: Runtime, key: SigningKey, key_server: KeyServer, ingest: TopicWatch
) -> None:
    key_server.stop()
    response = deliver(client, SAMPLES["success"], key)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert ingest.quiet(0.5) == []


def test_legacy_hmac_only_when_a_client_secret_is_configured(
    client: Any, adobe_runtime: Runtime, ingest: TopicWatch
) -> None:
    import base64
    import hashlib
    import hmac

    body = json.dumps(SAMPLES["success"]).encode()
    mac = base64.b64encode(hmac.new(b"adobe-secret", body, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "x-adobe-signature": mac}
    assert client.post(PATH, data=body, headers=headers).status_code == 401
    adobe_runtime.settings = dataclasses.replace(
        adobe_runtime.settings, adobe_client_secret="adobe-secret"
    )
    assert client.post(PATH, data=body, headers=headers).status_code == 200
    headers["x-adobe-signature"] = mac[:-4] + "AAAA"
    response = client.post(PATH, data=body, headers=headers)
    assert response.status_code == 401 and "adobe-secret" not in response.get_data(as_text=True)
    assert len(ingest.pull(1)) == 1


def test_batch_with_one_bad_member_loses_none_of_the_good_ones(
    client: Any,
    adobe_runtime: Runtime,
    key: SigningKey,
    ingest: TopicWatch,
    watch: Any,
    dead_letters: TopicWatch,
    state: StateStore,
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    unknown_org = copy.deepcopy(SAMPLES["success"])
    unknown_org["event"]["imsOrgId"] = "NOBODY@AdobeOrg"
    unknown_org["event"]["flowId"] = "other-flow"
    batch = [SAMPLES["failure"][0], addressed({"not": "an adobe event"}, CLIENT_ID), unknown_org]
    response = deliver(client, batch, key)
    assert response.status_code == 200 and response.get_json()["events"] == 3
    for message in ingest.pull(3):
        if not normalized_inline(message.attributes):  # as the normaliser's subscription
            handle_message(adobe_runtime, message.data, message.attributes)
    assert [m.json()["status"] for m in acme.pull(1)] == ["firing"]
    reasons = sorted(m.attributes["dead_letter_reason"] for m in dead_letters.pull(2))
    assert reasons == ["unparseable", "unroutable"]
