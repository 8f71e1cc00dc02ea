"""dbt Cloud webhook ingress (draft, not yet routed): through the real HTTP dispatcher on
the Pub/Sub emulator, an account maps to its tenant, the Authorization HMAC is checked
with that tenant's secret, and only a verified, well-formed delivery is published raw."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import flask
import pytest
import requests
from werkzeug.serving import make_server

from alertbridge import http
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.runtime import Runtime
from alertbridge.sources import adapter_for
from alertbridge.sources.dbt_cloud import SPEC, adapter, ingress
from alertbridge.tenants import RateLimit, Tenants, TenantsFile
from conftest import ROOT, TopicWatch

SAMPLES = ROOT / "functions" / "alertbridge" / "sources" / "dbt_cloud" / "samples"
ERRORED = (SAMPLES / "job_run_errored.json").read_bytes()
STARTED = (SAMPLES / "job_run_started.json").read_bytes()
SUCCESS = (SAMPLES / "job_run_completed_success.json").read_bytes()
ACME_SECRET = "acme-dbt-webhook-secret"
GLOBEX_SECRET = "globex-dbt-webhook-secret"
ROUTES = http.source_routes(SPEC)
PATH = SPEC.path


def sign(body: bytes, secret: str = ACME_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def dbt_runtime(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The example tenants file: acme owns dbt Cloud account 1, globex account 2."""
    monkeypatch.setenv("ACME_DBT_WEBHOOK_SECRET", ACME_SECRET)
    monkeypatch.setenv("GLOBEX_DBT_WEBHOOK_SECRET", GLOBEX_SECRET)
    return runtime


@pytest.fixture
def dbt_app(dbt_runtime: Runtime) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/<path:path>", methods=["GET", "POST", "PUT"])
    def serve(path: str) -> flask.Response:
        return http.dispatch(flask.request, ROUTES, dbt_runtime)

    return app


@pytest.fixture
def dbt_client(dbt_app: flask.Flask) -> Any:
    return dbt_app.test_client()


def deliver(client: Any, body: bytes, authorization: str | None = None, **headers: str) -> Any:
    sent = {"Content-Type": "application/json", **headers}
    sent["Authorization"] = sign(body) if authorization is None else authorization
    return client.post(PATH, data=body, headers=sent)


def with_changes(body: bytes, **top: Any) -> bytes:
    payload = json.loads(body)
    data = top.pop("data", {})
    payload.update(top)
    payload["data"].update(data)
    return json.dumps(payload, indent=1).encode()


def assert_refused(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()
    assert error["status"] == status and error["request_id"]
    assert any(d["field"] == field and d["rule"] for d in error["details"]), error


def test_a_signed_delivery_is_published_raw_for_the_accounts_tenant(
    dbt_client: Any, dbt_runtime: Runtime, ingest: TopicWatch
) -> None:
    response = deliver(dbt_client, ERRORED)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "accepted" and body["events"] == 1 and len(body["message_ids"]) == 1
    (message,) = ingest.pull(1)
    assert message.data == ERRORED  # the bytes dbt signed, not a re-serialisation
    assert message.attributes["source"] == "dbt_cloud.job_run"
    assert message.attributes["tenant_id"] == "4242"
    assert message.attributes["request_id"] == body["request_id"]
    # what the normaliser will make of it
    env = IngestEnvelope.from_message(message.data, message.attributes)
    (alert,) = adapter.parse_envelope(env, dbt_runtime.tenants)
    assert (alert.tenant_id, alert.status, alert.dedup_key) == (
        "4242",
        "firing",
        "dbt_cloud.job_run:4242:1:167194:1234:123",
    )


def test_each_account_is_checked_with_its_own_tenants_secret(
    dbt_client: Any, ingest: TopicWatch
) -> None:
    globex = with_changes(ERRORED, accountId=2)
    assert deliver(dbt_client, globex, sign(globex, GLOBEX_SECRET)).status_code == 200
    # account 1 belongs to acme: globex's secret does not sign for it
    assert_refused(deliver(dbt_client, ERRORED, sign(ERRORED, GLOBEX_SECRET)), 401, "Authorization")
    (message,) = ingest.pull(1)
    assert message.attributes["tenant_id"] == "5151"
    assert len(ingest.quiet(1.0)) == 1


@pytest.mark.parametrize(
    "authorization",
    ["", "0" * 64, "sha256=" + sign(ERRORED), "Bearer x", sign(ERRORED + b"\n")],
)
def test_a_delivery_whose_signature_does_not_match_is_401_and_publishes_nothing(
    dbt_client: Any, ingest: TopicWatch, authorization: str
) -> None:
    response = deliver(dbt_client, ERRORED, authorization)
    assert_refused(response, 401, "Authorization")
    assert response.get_json()["error"] == "invalid_signature"
    assert "WWW-Authenticate" in response.headers
    assert ingest.quiet(1.0) == []


def test_a_tampered_body_with_the_original_signature_is_refused(
    dbt_client: Any, ingest: TopicWatch
) -> None:
    tampered = with_changes(ERRORED, data={"runStatusCode": 10})
    assert_refused(deliver(dbt_client, tampered, sign(ERRORED)), 401, "Authorization")
    assert ingest.quiet(1.0) == []


def test_an_account_no_tenant_owns_is_401_naming_accountId(
    dbt_client: Any, ingest: TopicWatch
) -> None:
    unknown = with_changes(ERRORED, accountId=999)
    assert_refused(deliver(dbt_client, unknown), 401, "accountId")
    assert ingest.quiet(1.0) == []


def test_a_missing_secret_env_var_is_503_so_dbt_retries_and_nothing_is_published(
    dbt_client: Any, ingest: TopicWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_DBT_WEBHOOK_SECRET")
    response = deliver(dbt_client, ERRORED)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "ACME_DBT_WEBHOOK_SECRET" in response.get_json()["error_description"]
    assert ingest.quiet(1.0) == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (json.dumps({"eventType": "job.run.errored"}).encode(), 400, "accountId"),
        (with_changes(ERRORED, accountId=[1]), 400, "accountId"),
        (with_changes(ERRORED, data={"jobId": {"id": 1}}), 400, "data.jobId"),
        (with_changes(ERRORED, eventType="job.run.paused"), 400, "eventType"),
        (with_changes(SUCCESS, data={"runStatusCode": "10"}), 400, "data.runStatusCode"),
    ],
)
def test_a_malformed_delivery_is_400_naming_the_field_and_publishes_nothing(
    dbt_client: Any, ingest: TopicWatch, body: bytes, status: int, field: str
) -> None:
    assert_refused(deliver(dbt_client, body), status, field)
    assert ingest.quiet(1.0) == []


def test_a_body_that_is_not_json_by_content_type_is_415(
    dbt_client: Any, ingest: TopicWatch
) -> None:
    response = deliver(dbt_client, ERRORED, **{"Content-Type": "text/plain"})
    assert_refused(response, 415, "Content-Type")
    assert ingest.quiet(1.0) == []


def test_a_started_run_is_acknowledged_and_publishes_nothing(
    dbt_client: Any, ingest: TopicWatch
) -> None:
    response = deliver(dbt_client, STARTED)
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert ingest.quiet(1.0) == []


def test_a_tenant_over_its_rate_limit_is_429_and_publishes_nothing_more(
    dbt_client: Any, dbt_runtime: Runtime, ingest: TopicWatch
) -> None:
    slow = [
        t.model_copy(update={"rate_limit": RateLimit(requests_per_second=0.001, burst=1)})
        for t in dbt_runtime.tenants
    ]
    dbt_runtime.tenants = Tenants(TenantsFile(tenants=slow))
    assert deliver(dbt_client, ERRORED).status_code == 200
    response = deliver(dbt_client, with_changes(ERRORED, data={"runId": "777"}))
    assert_refused(response, 429, "Tenant-ID")
    assert response.headers["Retry-After"]
    assert [m.data for m in ingest.quiet(1.0)] == [ERRORED]


def test_the_signature_and_the_secret_never_reach_a_log_line_or_an_error(
    dbt_client: Any, ingest: TopicWatch, capfd: pytest.CaptureFixture[str]
) -> None:
    good = deliver(dbt_client, ERRORED)
    bad = deliver(dbt_client, ERRORED, sign(ERRORED, "wrong-secret"))
    out, err = capfd.readouterr()
    seen = out + err + good.get_data(as_text=True) + bad.get_data(as_text=True)
    for secret in (ACME_SECRET, sign(ERRORED), sign(ERRORED, "wrong-secret")):
        assert secret not in seen


@pytest.fixture
def live(dbt_app: flask.Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, dbt_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_a_delivery_over_loopback_is_answered_well_inside_dbts_10_second_timeout(
    live: str, ingest: TopicWatch
) -> None:
    timings: list[float] = []
    for index in range(20):
        body = with_changes(ERRORED, data={"runId": str(50_000 + index)})
        started = time.perf_counter()
        response = requests.post(
            live + PATH,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": sign(body)},
            timeout=10,
        )
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    assert len(ingest.pull(20)) == 20
    assert max(timings) < 10.0
    print(
        f"\ndbt Cloud ingress over loopback, 20 deliveries: median "
        f"{statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )


def test_the_source_is_wired_by_its_registry_line_alone(app: Any) -> None:
    """The spec gives the route on the all-routes function, an entry point of its own and
    the normaliser's adapter; nothing else names the source."""
    import functions_framework._function_registry as registry

    assert PATH == "/dbt-cloud/v1/webhooks" and SPEC.methods == ("POST",)
    assert SPEC.load_handler() is ingress.handle
    assert PATH in http.all_routes()
    assert registry.REGISTRY_MAP.get("dbt_cloud") == "http"
    assert adapter_for(SPEC.name) is adapter.parse_envelope
