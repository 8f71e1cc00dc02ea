"""The CIH events poller against a local server speaking the Events REST API (POST
/dih-console/api/v1/events, paging, 429 + Retry-After), feeding the real ingest topic."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from alertbridge.pipeline.normalize import handle_message
from alertbridge.runtime import Runtime
from alertbridge.sources.informatica.poller import poll_all, poll_tenant
from alertbridge.state import StateStore
from alertbridge.tenants import parse_tenants
from alertbridge_dev.emulator import free_port
from conftest import EXAMPLE_TENANTS, ROOT, TopicWatch

SEED = json.loads((ROOT / "tests" / "fixtures" / "informatica_seed_event.json").read_text())


class CihApi:
    """Answers like the CIH Events API; scripted 429s; records requests."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.throttle_next = 0
        self.answer: tuple[int, bytes] | None = None  # a scripted failure for every request
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append(
                    {"path": self.path, "body": body, "session": self.headers.get("IDS-SESSION-ID")}
                )
                if api.answer is not None:
                    self.send_response(api.answer[0])
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(api.answer[1])
                    return
                if api.throttle_next:
                    api.throttle_next -= 1
                    self.send_response(429)
                    self.send_header("Retry-After", "42")
                    self.end_headers()
                    return
                first, size = body["firstResult"], body["maxResults"]
                page = json.dumps(api.events[first : first + size]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def cih(monkeypatch: pytest.MonkeyPatch) -> Iterator[CihApi]:
    api = CihApi()
    monkeypatch.setenv("ACME_CIH_SESSION", "session-123")
    yield api
    api.httpd.shutdown()


@pytest.fixture
def polling_runtime(runtime: Runtime, state: StateStore, cih: CihApi) -> Runtime:
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    data["tenants"][0]["informatica"]["poll"] = {
        "base_url": cih.url,
        "session_env": "ACME_CIH_SESSION",
        "page_size": 2,
    }
    runtime.tenants = parse_tenants(data)
    return runtime


def event(event_id: int, status: str) -> dict[str, Any]:
    out = copy.deepcopy(SEED)
    out["eventId"] = event_id
    out["childEvents"][0]["eventId"] = event_id + 1
    out["childEvents"][0]["eventStatus"] = status
    return out


def test_poller_pages_publishes_once_per_status_and_feeds_the_adapter(
    polling_runtime: Runtime, cih: CihApi, ingest: TopicWatch, watch: Any
) -> None:
    tenant = polling_runtime.tenants.get("4242")
    assert tenant is not None
    cih.events = [event(100, "Error"), event(200, "Error"), event(300, "Processing")]
    first = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 10, tzinfo=UTC))
    assert (first.fetched, first.published, first.pages) == (3, 3, 2)  # two pages of 2
    assert cih.requests[0]["path"] == "/dih-console/api/v1/events"
    assert cih.requests[0]["session"] == "session-123"
    assert cih.requests[0]["body"]["toDate"] == "2026-11-25T10:00:00.000Z"
    messages = ingest.pull(3)
    assert {m.attributes["source"] for m in messages} == {"informatica.cih"}
    assert {m.attributes["tenant_id"] for m in messages} == {"4242"}

    # the next round sees the same events (overlapping window): nothing new is published ...
    again = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    assert (again.fetched, again.published) == (3, 0)
    assert cih.requests[-1]["body"]["fromDate"] == "2026-11-25T09:55:00.000Z"  # 5 min overlap
    # ... until an event reaches a new status anywhere in its tree (the parent stays Complete
    # while its subscription goes from Processing to Error)
    cih.events[2] = event(300, "Error")
    third = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 10, 10, tzinfo=UTC))
    assert third.published == 1 and third.published_ids[0].startswith("300:")
    acme = watch("alerts-4242")
    for message in ingest.pull(4):
        handle_message(polling_runtime, message.data, message.attributes)
    fired = [m.json() for m in acme.pull(6) if m.json()["status"] == "firing"]
    assert {a["resource"]["id"] for a in fired} >= {"101", "201"}


def test_429_stops_the_round_and_keeps_the_window(
    polling_runtime: Runtime, cih: CihApi, ingest: TopicWatch
) -> None:
    tenant = polling_runtime.tenants.get("4242")
    assert tenant is not None
    cih.events = [event(500, "Error")]
    cih.throttle_next = 1
    throttled = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 11, tzinfo=UTC))
    assert throttled.retry_after == 42 and throttled.published == 0
    assert ingest.quiet(0.5) == []
    later = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 11, 5, tzinfo=UTC))
    assert later.published == 1
    # the window still starts where the throttled round would have (default: an hour back)
    assert cih.requests[-1]["body"]["fromDate"] < "2026-11-25T10:00:00.000Z"


def test_missing_session_secret_is_reported_not_crashed(
    polling_runtime: Runtime, cih: CihApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_CIH_SESSION")
    tenant = polling_runtime.tenants.get("4242")
    assert tenant is not None
    result = poll_tenant(polling_runtime, tenant)
    assert result.error == "env var ACME_CIH_SESSION is not set" and cih.requests == []


def test_polled_event_of_an_application_another_tenant_owns_is_not_published_as_theirs(
    polling_runtime: Runtime, cih: CihApi, ingest: TopicWatch, watch: Any
) -> None:
    """Acme's CIH returns an event of Globex's application: posted, it would be refused with
    403; polled, it is refused too (not published), and acme's own events still go through."""
    tenant = polling_runtime.tenants.get("4242")
    assert tenant is not None
    foreign = event(700, "Error")
    foreign["applicationName"] = "Globex_CIH"
    foreign["childEvents"][0]["applicationName"] = "Globex_CIH"
    unmapped = event(800, "Error")
    unmapped["applicationName"] = unmapped["childEvents"][0]["applicationName"] = "Nobody_App"
    cih.events = [foreign, event(900, "Error"), unmapped]
    result = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert result.fetched == 3 and result.published == 2
    assert [key.split(":")[0] for key in result.refused_ids] == ["700"]
    messages = ingest.pull(2)
    assert len(ingest.quiet(0.5)) == 2
    assert {m.json()["eventId"] for m in messages} == {900, 800}
    globex, acme = watch("alerts-5151"), watch("alerts-4242")
    for message in messages:
        handle_message(polling_runtime, message.data, message.attributes)
    assert {a.json()["tenant_id"] for a in acme.pull(4)} == {"4242"}
    assert globex.quiet(0.5) == []
    # refused once, not again every round
    again = poll_tenant(polling_runtime, tenant, now=datetime(2026, 11, 25, 12, 5, tzinfo=UTC))
    assert (again.published, again.refused_ids) == (0, [])


def test_one_tenants_cih_failure_does_not_stop_the_round_for_the_others(
    runtime: Runtime, state: Any, ingest: TopicWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four polling tenants: a 5xx, a 200 that is not JSON, a refused connection, and a
    healthy one polled last; the healthy one is polled and published, the others reported."""
    monkeypatch.setenv("CIH_SESSION", "session-x")
    servers = {name: CihApi() for name in ("5xx", "badjson", "ok")}
    servers["5xx"].answer = (503, b'{"error": "down"}')
    servers["badjson"].answer = (200, b"<html>maintenance</html>")
    servers["ok"].events = [event(1000, "Error")]
    urls = {name: api.url for name, api in servers.items()}
    urls["refused"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    template = data["tenants"][1]
    data["tenants"] = []
    for number, name in enumerate(("5xx", "badjson", "refused", "ok")):
        tenant = copy.deepcopy(template)
        tenant.update(id=f"90{number}", name=f"poll-{name}")
        tenant["service_accounts"][0]["username"] = f"svc-{name}"
        tenant["adobe"]["ims_org_ids"] = [f"ORG{number:021d}@AdobeOrg"]
        tenant.pop("dbt_cloud", None)  # an account belongs to one tenant
        tenant["informatica"] = {
            "applications": [f"App_{name}"],
            "poll": {"base_url": urls[name], "session_env": "CIH_SESSION", "page_size": 10},
        }
        data["tenants"].append(tenant)
    runtime.tenants = parse_tenants(data)
    try:
        results = {r.tenant_id: r for r in poll_all(runtime, datetime(2026, 11, 25, tzinfo=UTC))}
    finally:
        for api in servers.values():
            api.httpd.shutdown()
    assert set(results) == {"900", "901", "902", "903"}
    assert results["900"].error == "CIH answered 503"
    assert str(results["901"].error).startswith("CIH answered invalid JSON")
    assert str(results["902"].error).startswith("ConnectionError")
    assert results["903"].error is None and results["903"].published == 1
    assert [m.json()["eventId"] for m in ingest.pull(1)] == [1000]
    polls = {
        (sample.labels["tenant"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(runtime.metrics.prometheus().decode())
        if family.name == "cih_polls"
        for sample in family.samples
    }
    assert polls == {
        ("900", "failed"): 1,
        ("901", "failed"): 1,
        ("902", "failed"): 1,
        ("903", "ok"): 1,
    }
