"""Informatica CIH events: the adapter on the seed's own payload, XML, every status, and
the endpoint end to end on the emulator."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.normalize import handle_message
from alertbridge.runtime import Runtime
from alertbridge.sources import AdapterError
from alertbridge.sources.informatica import adapter as informatica
from alertbridge.sources.informatica.ingress import parse_xml
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants, load_tenants
from conftest import EXAMPLE_TENANTS, ROOT, TopicWatch, token_for

SEED = json.loads((ROOT / "tests" / "fixtures" / "informatica_seed_event.json").read_text())
SAMPLES = json.loads(
    (ROOT / "functions/alertbridge/sources/informatica/samples/events.json").read_text()
)
PATH = "/informatica/v1/events"
TENANTS = load_tenants(EXAMPLE_TENANTS)


def parse(event: Any, tenant: str | None = "4242", tenants: Tenants = TENANTS) -> list[Any]:
    env = IngestEnvelope(
        json.dumps(event).encode(),
        informatica.SOURCE,
        "req-1",
        datetime(2026, 11, 25, tzinfo=UTC),
        tenant_id=tenant,
    )
    return informatica.parse(env, tenants)


def firing(alerts: list[Any]) -> list[Any]:
    return [a for a in alerts if a.status == "firing"]


def event(
    event_id: int, status: str, children: list[Any] | None = None, **kw: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventId": event_id,
        "eventType": "SUBSCRIPTION",
        "eventStatus": status,
        "applicationName": "DI_App",
        "topicName": "T",
        "pubSubName": f"S{event_id}",
    }
    if children is not None:
        out["childEvents"] = children
    out.update(kw)
    return out


def to_xml(ev: dict[str, Any], tag: str = "event") -> str:
    parts = []
    for key, value in ev.items():
        if key == "childEvents":
            parts.append("<childEvents>" + "".join(to_xml(c) for c in value) + "</childEvents>")
        elif key == "eventHistory":
            entries = "".join(
                "<entry>" + "".join(f"<{k}>{v}</{k}>" for k, v in h.items()) + "</entry>"
                for h in value
            )
            parts.append(f"<eventHistory>{entries}</eventHistory>")
        else:
            parts.append(f"<{key}>{value}</{key}>")
    return f"<{tag}>" + "".join(parts) + f"</{tag}>"


def test_seed_sample_yields_one_firing_alert_for_child_32011_with_its_comment() -> None:
    alerts = parse(SEED)
    (fired,) = firing(alerts)
    assert fired.resource.id == "32011" and fired.resource.parent == "32010"
    assert fired.resource.kind == "cih_subscription"
    assert fired.severity == "error"
    assert "Subscription to topic failed. The job failed." in fired.summary
    assert fired.errors[0].message == "Subscription to topic failed. The job failed."
    assert fired.dedup_key == "informatica.cih:4242:DI_App:DI_Topic:DSS_Sub:SUBSCRIPTION"
    assert fired.labels["application"] == "DI_App" and fired.labels["topic"] == "DI_Topic"
    assert fired.metrics.records_written == 0 and fired.metrics.records_write_failed == 0
    assert fired.occurred_at == datetime(2023, 4, 20, 2, 47, 4, 801000, tzinfo=UTC)
    (parent,) = [a for a in alerts if a.status == "resolved"]
    assert parent.resource.id == "32010"  # the publication itself completed


def test_follow_up_completed_event_resolves_the_same_dedup_key() -> None:
    (fired,) = firing(parse(SAMPLES[0]["event"]))
    resolved = [a for a in parse(SAMPLES[1]["event"]) if a.status == "resolved"]
    assert fired.dedup_key in {a.dedup_key for a in resolved}
    assert all(a.severity == "info" for a in resolved)


def test_deep_tree_alerts_on_the_event_that_failed_at_any_depth() -> None:
    leaf = event(4, "Error", eventHistory=[{"eventStatusName": "Error", "comments": "boom"}])
    tree = event(
        1,
        "Complete",
        [event(2, "Complete", [event(3, "Processing", [leaf])], descendantState="ERROR")],
        descendantState="ERROR",
    )
    (fired,) = firing(parse(tree))
    assert fired.resource.id == "4" and fired.resource.parent == "3" and "boom" in fired.summary


def test_all_complete_tree_only_resolves() -> None:
    tree = event(
        1, "Complete", [event(2, "Complete"), event(3, "Complete")], descendantState="FINAL"
    )
    alerts = parse(tree)
    assert [a.status for a in alerts] == ["resolved"] * 3


def test_descendant_error_without_the_failing_child_alerts_on_the_parent() -> None:
    alerts = parse(event(1, "Complete", [], descendantState="ERROR"))
    (fired,) = firing(alerts)
    assert fired.resource.id == "1" and "failed child" in fired.summary


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Error", ("firing", "error")),
        ("ERROR", ("firing", "error")),
        ("Complete", ("resolved", "info")),
        ("Completed", ("resolved", "info")),
        ("Final", ("resolved", "info")),
        ("Discarded", ("firing", "warning")),
        ("Pending", None),
        ("Delayed", None),
        ("Processing", None),
        ("Pre-processing", None),
        ("Post-processing", None),
        ("Reprocessed", None),
        ("Ready for processing", None),
        ("Exploded", ("firing", "warning")),
    ],
)
def test_every_documented_event_status_is_handled(
    status: str, expected: tuple[str, str] | None
) -> None:
    alerts = parse(event(7, status))
    assert [(a.status, a.severity) for a in alerts] == ([expected] if expected else [])


def test_unknown_status_is_surfaced_not_dropped() -> None:
    (alert,) = parse(event(7, "Exploded"))
    assert alert.labels["unknown_status"] == "Exploded" and "unknown eventStatus" in alert.summary


@pytest.mark.parametrize("state", sorted(informatica.KNOWN_DESCENDANT_STATES))
def test_every_descendant_state_is_known(state: str) -> None:
    alerts = parse(event(1, "Complete", [event(2, "Complete")], descendantState=state.upper()))
    assert bool(firing(alerts)) == (state == "error")


def test_completed_with_failed_rows_is_a_warning() -> None:
    (alert,) = parse(event(9, "Complete", targetFailedCount=3, targetSuccessCount=97))
    assert (alert.status, alert.severity) == ("firing", "warning")
    assert alert.metrics.records_write_failed == 3


def test_application_mapping_wins_over_the_request_tenant() -> None:
    (alert,) = firing(parse(event(5, "Error", applicationName="Globex_CIH"), tenant="4242"))
    assert alert.tenant_id == "5151"


def test_a_cycle_or_runaway_tree_is_refused() -> None:
    deep: dict[str, Any] = event(0, "Complete")
    node = deep
    for i in range(1, informatica.MAX_DEPTH + 3):
        child = event(i, "Complete")
        node["childEvents"] = [child]
        node = child
    with pytest.raises(AdapterError):
        parse(deep)


def test_xml_equivalent_of_the_seed_gives_the_same_alerts() -> None:
    (from_xml,) = parse_xml(to_xml(SEED).encode())
    assert [(a.id, a.status, a.dedup_key, a.summary) for a in parse(from_xml)] == [
        (a.id, a.status, a.dedup_key, a.summary) for a in parse(SEED)
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<event><eventId>1</eventId><pubSubName>&lol4;</pubSubName></event>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<event><eventId>1</eventId><pubSubName>&x;</pubSubName></event>"""


def post(
    client: Any,
    data: Any,
    tenant: str = "4242",
    token: str | None = None,
    content_type: str = "application/json",
) -> Any:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(
        PATH,
        data=body,
        content_type=content_type,
        headers={
            "Tenant-ID": tenant,
            "Authorization": f"Bearer {token or token_for(client, tenant)}",
        },
    )


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_bombs_and_external_entities_are_refused_fast_and_publish_nothing(
    client: Any, ingest: TopicWatch, payload: bytes
) -> None:
    started = time.monotonic()
    response = post(client, payload, content_type="application/xml")
    assert time.monotonic() - started < 1.0
    assert response.status_code == 400
    body = response.get_json()
    assert body["details"][0]["field"] == "body" and "DTD" in body["details"][0]["rule"]
    assert ingest.quiet(1.0) == []


def test_endpoint_rejections_name_the_field_and_publish_nothing(
    client: Any, ingest: TopicWatch
) -> None:
    bad = copy.deepcopy(SEED)
    del bad["childEvents"][0]["eventStatus"]
    bad["sourceFailedCount"] = "x"
    response = post(client, bad)
    assert response.status_code == 400
    fields = {d["field"] for d in response.get_json()["details"]}
    assert fields == {"events[0].childEvents[0].eventStatus", "events[0].sourceFailedCount"}
    assert post(client, SEED, content_type="text/plain").status_code == 415
    assert post(client, SEED, token="nope").status_code == 401
    assert post(client, SEED, token=token_for(client, "5151")).status_code == 403
    assert post(client, b"<event><eventId>1", content_type="application/xml").status_code == 400
    assert post(client, []).status_code == 400
    big = dict(SEED, pubSubName="x" * 300_000)
    assert post(client, big).status_code == 413
    # globex's application posted with acme's token: the mapping names a tenant the token lacks
    assert post(client, dict(SEED, applicationName="Globex_CIH")).status_code == 403
    assert ingest.quiet(1.0) == []


def test_seed_posted_lands_on_tenant_topic_and_follow_up_resolves_it(
    client: Any, runtime: Runtime, ingest: TopicWatch, watch: Any, state: StateStore
) -> None:
    acme: TopicWatch = watch("alerts-4242")
    assert post(client, SAMPLES[0]["event"]).status_code == 202
    xml = to_xml(SAMPLES[1]["event"]).encode()
    response = post(client, xml, content_type="application/xml")
    assert response.status_code == 202, response.get_data(as_text=True)
    for message in ingest.pull(2):
        handle_message(runtime, message.data, message.attributes)
    landed = acme.pull(5)
    alerts = [m.json() for m in landed]
    fired = [a for a in alerts if a["status"] == "firing"]
    assert len(fired) == 1 and fired[0]["resource"]["id"] == "32011"
    resolved_keys = {a["dedup_key"] for a in alerts if a["status"] == "resolved"}
    assert fired[0]["dedup_key"] in resolved_keys
    attrs = {m.attributes["ce-id"]: m.attributes for m in landed}
    assert attrs[fired[0]["id"]]["severity"] == "error"


def test_array_of_events_becomes_one_ingest_message_each(client: Any, ingest: TopicWatch) -> None:
    response = post(client, [SAMPLES[0]["event"], SAMPLES[1]["event"]])
    assert response.status_code == 202 and response.get_json()["events"] == 2
    messages = ingest.pull(2)
    assert sorted(json.loads(m.data)["eventId"] for m in messages) == [32010, 32020]
    assert {m.attributes["original_content_type"] for m in messages} == {"application/json"}


FIELDS_XML = (
    "<eventId>{0}</eventId><eventStatus>Complete</eventStatus><eventType>SUBSCRIPTION</eventType>"
    "<applicationName>DI_App</applicationName><topicName>T</topicName><pubSubName>S</pubSubName>"
)


def nested_xml(levels: int, fields: bool = True) -> bytes:
    """An <event> whose childEvents nest ``levels`` deep (bare events when not ``fields``,
    to get thousands of levels under the 254 KB cap)."""
    opening = [
        "<event>" + (FIELDS_XML.format(level) if fields else "") + "<childEvents>"
        for level in range(levels)
    ]
    leaf = "<event>" + FIELDS_XML.format(levels) + "</event>"
    return ("".join(opening) + leaf + "</childEvents></event>" * levels).encode()


def test_xml_nested_16_levels_is_accepted(client: Any, ingest: TopicWatch) -> None:
    response = post(client, nested_xml(informatica.MAX_DEPTH), content_type="application/xml")
    assert response.status_code == 202, response.get_data(as_text=True)
    assert len(ingest.pull(1)) == 1


@pytest.mark.parametrize(
    ("levels", "fields"),
    [(informatica.MAX_DEPTH + 1, True), (700, True), (5_000, False)],
    ids=["17", "700", "5000-bare"],
)
def test_xml_nested_past_16_levels_is_a_400_naming_the_path_and_publishes_nothing(
    client: Any, ingest: TopicWatch, levels: int, fields: bool
) -> None:
    body = nested_xml(levels, fields)
    started = time.monotonic()
    response = post(client, body, content_type="application/xml")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    (detail,) = response.get_json()["details"]
    assert detail["rule"] == f"depth<={informatica.MAX_DEPTH}"
    assert detail["field"] == "events[0]" + ".childEvents[0]" * (informatica.MAX_DEPTH + 1)
    assert ingest.quiet(1.0) == []


def test_xml_elements_nested_past_any_cih_shape_are_a_400(client: Any, ingest: TopicWatch) -> None:
    body = b"<event><eventId>1</eventId><runId>" + b"<a>" * 30_000 + b"</a>" * 30_000
    response = post(client, body + b"</runId></event>", content_type="application/xml")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    (detail,) = response.get_json()["details"]
    assert detail["field"].startswith("events[0].runId.a.a")
    assert detail["rule"].startswith("depth<=")
    assert ingest.quiet(1.0) == []


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 40_000 + b"1" + b"}" * 40_000],
    ids=["arrays", "objects"],
)
def test_json_nested_100k_deep_is_a_400_with_the_depth_rule_and_publishes_nothing(
    client: Any, ingest: TopicWatch, body: bytes
) -> None:
    for path in (PATH, "/analytics-environment/v1/job-pub-sub-messages"):
        response = client.post(
            path,
            data=body,
            content_type="application/json",
            headers={"Tenant-ID": "4242", "Authorization": f"Bearer {token_for(client)}"},
        )
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        (detail,) = response.get_json()["details"]
        assert (detail["field"], detail["rule"]) == ("body", "depth<=32")
    assert ingest.quiet(1.0) == []
