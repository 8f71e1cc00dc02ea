"""Teams, Opsgenie and Standard Webhooks destinations, end to end: the notifier (Firestore
emulator for its records, Pub/Sub emulator for dead letters) posting to the capture server,
which speaks each receiver's protocol (a Workflows webhook's 202, Opsgenie's 202/401/422,
a Standard Webhooks receiver verifying signatures with the reference library).

Tenant 5151 of the example tenants file has all three; 4242 keeps PagerDuty and Slack.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from standardwebhooks import Webhook, WebhookVerificationError

from alertbridge.alert import Alert, AlertError, Link, Resource
from alertbridge.notify.delivery import Backoff
from alertbridge.notify.handler import handle_alert
from alertbridge.notify.opsgenie import payload as opsgenie
from alertbridge.pipeline.normalize import alert_message
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
from alertbridge.state import StateStore
from alertbridge.tenants import TenantsFileError, load_tenants, loads_tenants
from alertbridge_dev.capture import (
    Captured,
    CaptureServer,
    capture_webhook_secret,
    opsgenie_alias,
)
from alertbridge_dev.worker import NotifyWorker
from conftest import EXAMPLE_TENANTS, TopicWatch

FAST = Backoff(attempts=4, base_s=0.001, cap_s=0.01, timeout_s=2)
KEY = "adobe.flow_run:5151:prod:cf4fce79/run 7"  # a slash and a space: the alias is quoted


def alert(status: str = "firing", severity: str = "error", key: str = KEY, **kw: Any) -> Alert:
    fields: dict[str, Any] = dict(
        id=f"{key}-{status}".replace("/", "-").replace(" ", "-").replace(":", "-"),
        dedup_key=key,
        tenant_id="5151",
        source="adobe.flow_run",
        status=status,
        severity=severity,
        summary=f"flow run {key} {status}",
        occurred_at=datetime(2026, 11, 25, tzinfo=UTC),
        received_at=datetime(2026, 11, 25, tzinfo=UTC),
        resource=Resource(kind="adobe_flow", id="cf4fce79", parent="sandbox prod"),
        errors=[AlertError(code="CONNECTOR-2001-500", message="processing failed")],
        links=[Link(href="https://platform.adobe.io/x", text="manifest")],
    )
    fields.update(kw)
    return Alert(**fields)


def send(runtime: Runtime, a: Alert) -> dict[str, str]:
    outcomes = handle_alert(
        runtime, a.to_json_bytes(), {"tenant_id": a.tenant_id}, "m", backoff=FAST
    )
    return {o.destination: o.action for o in outcomes}


def of(capture: CaptureServer, prefix: str) -> list[Captured]:
    return [c for c in capture.requests if c.path.startswith(prefix)]


# ---- each receiver gets trigger and resolve in its documented format ----------------------


def test_opsgenie_creates_with_alias_dedup_key_then_closes_by_alias(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    long = alert(summary="x" * 300)
    assert send(runtime, long)["opsgenie"] == "sent"
    assert send(runtime, alert(id="again"))["opsgenie"] == "skip_repeat"  # paged once
    assert send(runtime, alert("resolved", "info"))["opsgenie"] == "sent"
    create, close = of(destinations, "/v2/alerts")
    assert create.path == "/v2/alerts" and create.status == 202
    assert create.headers["authorization"] == "GenieKey capture-genie-key-5151"
    body = create.body
    assert body["alias"] == KEY and len(body["message"]) == 130
    assert body["priority"] == "P2" and body["source"] == "alertbridge"
    assert "CONNECTOR-2001-500" in body["description"]
    assert all(isinstance(v, str) for v in body["details"].values())
    assert body["details"]["tenant_id"] == "5151"
    assert close.path.endswith("/close?identifierType=alias") and close.status == 202
    assert opsgenie_alias(close) == KEY and "%2F" in close.path
    assert close.headers["authorization"].startswith("GenieKey ")


def test_opsgenie_priority_follows_severity_and_the_longest_key_is_a_closable_alias() -> None:
    assert [
        opsgenie.request(alert(severity=s), "https://api.eu.opsgenie.com", "K")[1]["priority"]
        for s in ("critical", "error", "warning", "info")
    ] == ["P1", "P2", "P3", "P5"]
    longest = "k/" * 127 + "k"  # dedup_key's 255-char limit; Opsgenie keeps 512
    url, body, _ = opsgenie.request(alert(key=longest), "https://api.eu.opsgenie.com", "K")
    assert url == "https://api.eu.opsgenie.com/v2/alerts" and body["alias"] == longest
    close_url, _, _ = opsgenie.request(alert("resolved", key=longest), "https://x", "K")
    assert unquote(close_url.split("?")[0].split("/")[-2]) == longest


def test_opsgenie_region_picks_the_eu_or_us_host_and_refuses_others() -> None:
    tenants = load_tenants(EXAMPLE_TENANTS)
    og = tenants.get("5151").notify.opsgenie  # type: ignore[union-attr]
    assert og is not None and og.api_url == "https://api.eu.opsgenie.com"
    text = EXAMPLE_TENANTS.read_text()
    us = loads_tenants(text.replace("region: eu", "region: us")).get("5151")
    assert us is not None and us.notify.opsgenie is not None
    assert us.notify.opsgenie.api_url == "https://api.opsgenie.com"
    with pytest.raises(TenantsFileError, match=r"tenants\[1\]\.notify\.opsgenie\.region"):
        loads_tenants(text.replace("region: eu", "region: mars"))
    # a secret written into the file instead of named is refused
    inline = text.replace("api_key_env: GLOBEX_OPSGENIE_API_KEY", "api_key: abc123")
    with pytest.raises(TenantsFileError, match=r"notify\.opsgenie\.api_key") as refused:
        loads_tenants(inline)
    assert "abc123" not in str(refused.value)


def test_teams_gets_an_adaptive_card_for_firing_and_for_resolved(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    assert send(runtime, alert())["teams"] == "sent"
    assert send(runtime, alert("resolved", "info"))["teams"] == "sent"
    fired, resolved = of(destinations, "/teams/5151")
    assert fired.status == resolved.status == 202  # a Workflows webhook accepts with 202
    for captured in (fired, resolved):
        assert captured.body["type"] == "message"
        (attachment,) = captured.body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        assert tuple(map(int, card["version"].split("."))) >= (1, 4)
    fired_card = fired.body["attachments"][0]["content"]
    assert fired_card["body"][0]["text"].startswith("ERROR: ")
    assert "CONNECTOR-2001-500" in json.dumps(fired_card["body"])
    assert fired_card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "manifest",
        "url": "https://platform.adobe.io/x",
    }
    resolved_card = resolved.body["attachments"][0]["content"]
    assert resolved_card["body"][0]["text"].startswith("Resolved: ")
    assert resolved_card["body"][0]["color"] == "Good"


def test_webhook_signature_verifies_with_the_library_and_a_tampered_body_fails(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    assert send(runtime, alert())["webhook"] == "sent"
    assert send(runtime, alert("resolved", "info"))["webhook"] == "sent"
    fired, resolved = of(destinations, "/webhook/5151")
    assert fired.status == resolved.status == 204  # the capture server verified both
    receiver = Webhook(capture_webhook_secret("5151"))
    envelope = receiver.verify(fired.raw, fired.headers)
    assert envelope["type"] == "alert.firing" and envelope["data"]["dedup_key"] == KEY
    assert Alert.model_validate(envelope["data"]) == alert()
    assert receiver.verify(resolved.raw, resolved.headers)["type"] == "alert.resolved"
    assert fired.headers["webhook-id"] == f"msg_{alert().id}"
    assert fired.headers["webhook-signature"].startswith("v1,")
    tampered = fired.raw.replace(b'"severity":"error"', b'"severity":"info"')
    assert tampered != fired.raw
    with pytest.raises(WebhookVerificationError):
        receiver.verify(tampered, fired.headers)
    # and the receiver refuses it on the wire
    answer = requests.post(
        f"{destinations.url}/webhook/5151", data=tampered, headers=fired.headers, timeout=5
    )
    assert answer.status_code == 401


# ---- retries, refusals and secrets: the same rules as PagerDuty and Slack -----------------


@pytest.mark.parametrize(
    ("destination", "prefix"),
    [("teams", "/teams/"), ("opsgenie", "/v2/alerts"), ("webhook", "/webhook/")],
)
def test_429_and_5xx_are_retried_then_delivered_once(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, destination: str, prefix: str
) -> None:
    destinations.script(prefix, [429, 503])
    assert send(runtime, alert())[destination] == "sent"
    assert [c.status for c in of(destinations, prefix)][:2] == [429, 503]
    assert len([c for c in of(destinations, prefix) if c.status < 300]) == 1


@pytest.mark.parametrize(
    ("destination", "prefix", "status"),
    [("teams", "/teams/", 400), ("opsgenie", "/v2/alerts", 422)],
)
def test_a_refused_request_is_dead_lettered_once_and_not_recorded_as_open(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    dead_letters: TopicWatch,
    destination: str,
    prefix: str,
    status: int,
) -> None:
    destinations.script(prefix, [status])
    assert send(runtime, alert())[destination] == "dead_lettered"
    assert len(of(destinations, prefix)) == 1  # never retried
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "delivery_rejected"
    assert dead.attributes["destination"] == destination
    assert str(status) in dead.attributes["dead_letter_detail"]
    assert send(runtime, alert(id="next-run"))[destination] == "sent"  # pages next time


def test_a_webhook_signed_with_the_wrong_secret_is_refused_and_dead_lettered(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    dead_letters: TopicWatch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GLOBEX_WEBHOOK_SECRET", capture_webhook_secret("someone-else"))
    assert send(runtime, alert())["webhook"] == "dead_lettered"
    (refused,) = of(destinations, "/webhook/")
    assert refused.status == 401
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "delivery_rejected"
    assert dead.attributes["destination"] == "webhook"


def test_opsgenie_without_a_genie_key_is_refused_with_401(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    answer = requests.post(
        f"{destinations.url}/v2/alerts", json=opsgenie.request(alert(), "x", "K")[1], timeout=5
    )
    assert answer.status_code == 401
    assert destinations.requests[-1].status == 401


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("GLOBEX_OPSGENIE_API_KEY", ""),
        ("GLOBEX_TEAMS_WEBHOOK_URL", ""),
        ("GLOBEX_WEBHOOK_SECRET", ""),
        ("GLOBEX_WEBHOOK_SECRET", "plain-text-not-whsec-value"),
    ],
)
def test_a_missing_or_malformed_secret_is_dead_lettered_naming_the_env_var_not_the_value(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    dead_letters: TopicWatch,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
    value: str,
) -> None:
    monkeypatch.setenv(env, value)
    outcomes = handle_alert(runtime, alert().to_json_bytes(), {"tenant_id": "5151"}, "m")
    assert [o.action for o in outcomes] == ["dead_lettered"]
    assert destinations.requests == []  # nothing partial went out
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "destination_not_configured"
    assert env in dead.attributes["dead_letter_detail"]
    assert "plain-text" not in json.dumps(dict(dead.attributes))


def test_the_worker_delivers_trigger_then_resolve_to_all_three_from_the_tenant_topic(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    worker = NotifyWorker(runtime).start()
    try:
        messages = [
            alert_message(alert(), "alerts-5151"),
            alert_message(alert("resolved", "info"), "alerts-5151"),
        ]
        runtime.publisher.publish_and_wait(
            [OutgoingMessage(m.topic, m.data, m.attributes, m.ordering_key) for m in messages]
        )
        sent = destinations.wait_for(6, timeout=30)
    finally:
        worker.stop()
    assert len(sent) == 6 and all(c.status < 300 for c in sent)
    ops = [c.path for c in sent if c.path.startswith("/v2/alerts")]
    assert ops[0] == "/v2/alerts" and ops[1].endswith("/close?identifierType=alias")
    teams_texts = [
        c.body["attachments"][0]["content"]["body"][0]["text"]
        for c in sent
        if c.path.startswith("/teams/")
    ]
    assert [t.split(":")[0] for t in teams_texts] == ["ERROR", "Resolved"]
    hooks = [json.loads(c.raw)["type"] for c in sent if c.path.startswith("/webhook/")]
    assert hooks == ["alert.firing", "alert.resolved"]
