"""dbt Cloud job webhooks, the pure adapter: dbt's documented payloads become alerts, a
success resolves by run order, and any mangled payload is an AdapterError, never a crash."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbridge.alert import Alert
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.runorder import decide
from alertbridge.sources import AdapterError, UnroutableError
from alertbridge.sources.dbt_cloud import adapter
from alertbridge.tenants import load_tenants
from conftest import EXAMPLE_TENANTS, ROOT

SAMPLES = ROOT / "functions" / "alertbridge" / "sources" / "dbt_cloud" / "samples"
STARTED = json.loads((SAMPLES / "job_run_started.json").read_text())
SUCCESS = json.loads((SAMPLES / "job_run_completed_success.json").read_text())
ERRORED = json.loads((SAMPLES / "job_run_errored.json").read_text())
COMPLETED_ERROR = json.loads((SAMPLES / "job_run_completed_error.json").read_text())
RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = "dbt_cloud.job_run:4242:1:167194:1234:123"


def parse(payload: Any, tenant: str = "4242") -> list[Alert]:
    return adapter.parse(payload, tenant, RECEIVED)


def with_data(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            payload["data"].pop(key, None)
        else:
            payload["data"][key] = value
    return payload


# ---- dbt's documented payloads ----------------------------------------------------------


def test_a_started_run_publishes_nothing() -> None:
    assert parse(STARTED) == []


def test_an_errored_run_fires_an_error_alert_keyed_by_account_project_environment_and_job() -> None:
    (alert,) = parse(ERRORED)
    assert (alert.source, alert.status, alert.severity) == ("dbt_cloud.job_run", "firing", "error")
    assert alert.dedup_key == KEY
    assert alert.tenant_id == "4242"
    assert alert.occurred_at == datetime(2023, 1, 31, 21, 14, 41, tzinfo=UTC)  # runStartedAt
    assert alert.received_at == RECEIVED
    assert alert.resource.kind == "dbt_cloud_job" and alert.resource.id == "123"
    assert alert.resource.name == "dbt Vault"
    assert alert.metrics.duration_ms == 39_000  # runStartedAt → runErroredAt
    assert [(e.code, e.scope) for e in alert.errors] == [("Errored", "run 12345")]
    assert alert.labels["runId"] == "12345" and alert.labels["eventType"] == "job.run.errored"
    assert alert.labels["runStatusCode"] == "20"
    assert alert.links == []  # the payload has no host: no documented run URL to build


def test_the_summary_names_the_job_the_run_and_where_it_ran() -> None:
    (alert,) = parse(ERRORED)
    assert alert.summary == (
        "dbt Cloud job 'dbt Vault' (job 123) run 12345 errored in environment dbt Vault Demo "
        "of project Snowflake Github Demo (account 1): no status message from dbt Cloud; "
        "run reason: Kicked off from UI by test@test.com"
    )


def test_the_status_message_is_quoted_when_dbt_sends_one() -> None:
    (alert,) = parse(with_data(ERRORED, runStatusMessage="Database Error in model orders"))
    assert "errored in environment" in alert.summary
    assert ": Database Error in model orders;" in alert.summary
    assert alert.errors[0].message == "Database Error in model orders"


def test_a_completed_run_that_did_not_succeed_fires_like_an_errored_one() -> None:
    (completed,) = parse(COMPLETED_ERROR)
    (errored,) = parse(ERRORED)
    assert (completed.status, completed.severity) == ("firing", "error")
    assert completed.dedup_key == errored.dedup_key == KEY
    # dbt sends both events for one failed run; the same id makes the second a duplicate.
    assert completed.id == errored.id
    assert completed.labels["eventType"] == "job.run.completed"


@pytest.mark.parametrize(
    ("status", "code"),
    [("Error", 20), ("Cancelled", 30), ("Errored", None), ("Success", 20), ("Weird", 99)],
)
def test_any_completed_status_other_than_success_fires(status: str, code: int | None) -> None:
    (alert,) = parse(with_data(SUCCESS, runStatus=status, runStatusCode=code))
    assert alert.status == "firing"


def test_a_successful_completed_run_resolves_the_job_at_the_runs_start() -> None:
    (alert,) = parse(SUCCESS)
    assert (alert.status, alert.severity) == ("resolved", "info")
    assert alert.dedup_key == KEY
    assert alert.occurred_at == datetime(2023, 1, 31, 19, 28, 7, tzinfo=UTC)
    assert alert.metrics.duration_ms == 85_000
    assert alert.summary.startswith("dbt Cloud job 'Daily Job (dbt build)' (job 123) run 12345")
    assert "succeeded" in alert.summary
    assert alert.errors == []


def test_success_is_read_from_the_code_or_without_it_from_the_status_word() -> None:
    (by_code,) = parse(with_data(SUCCESS, runStatus="whatever", runStatusCode=10))
    (by_word,) = parse(with_data(SUCCESS, runStatus="success", runStatusCode=None))
    assert by_code.status == by_word.status == "resolved"


def test_a_beta_era_payload_without_project_or_code_still_parses() -> None:
    legacy = with_data(SUCCESS, projectId=None, runStatusCode=None)
    del legacy["webhooksID"]
    (alert,) = parse(legacy)
    assert alert.status == "resolved"
    assert alert.dedup_key == "dbt_cloud.job_run:4242:1:-:1234:123"


def test_resolution_follows_run_order_not_arrival_order() -> None:
    """A success of an older run arriving after a newer run failed does not resolve it."""
    newer_failure = with_data(ERRORED, runId="20000", runStartedAt="2023-02-01T00:00:00Z")
    (failed,) = parse(newer_failure)
    (older_success,) = parse(SUCCESS)
    (newer_success,) = parse(with_data(SUCCESS, runId="30000", runStartedAt="2023-02-02T00:00:00Z"))
    assert failed.dedup_key == older_success.dedup_key == newer_success.dedup_key
    _, record = decide(None, failed)
    assert decide(record, older_success) == (False, None)
    publish, _ = decide(record, newer_success)
    assert publish


def test_ids_are_deterministic_per_run_and_status() -> None:
    assert parse(ERRORED)[0].id == parse(copy.deepcopy(ERRORED))[0].id
    assert parse(ERRORED)[0].id != parse(with_data(ERRORED, runId="12346"))[0].id
    assert parse(SUCCESS)[0].id != parse(with_data(SUCCESS, runStatusCode=20))[0].id


def test_numeric_ids_and_string_ids_give_the_same_key() -> None:
    numeric = with_data(ERRORED, jobId=123, projectId=167194, environmentId=1234, runId=12345)
    assert parse(numeric)[0].dedup_key == KEY
    as_text = copy.deepcopy(ERRORED)
    as_text["accountId"] = "1"
    assert parse(as_text)[0].dedup_key == KEY


def test_the_envelope_entry_point_uses_the_tenant_the_ingress_resolved() -> None:
    tenants = load_tenants(EXAMPLE_TENANTS)
    env = IngestEnvelope(
        json.dumps(ERRORED).encode(), adapter.SOURCE, "r1", RECEIVED, tenant_id="5151"
    )
    (alert,) = adapter.parse_envelope(env, tenants)
    assert alert.tenant_id == "5151" and alert.request_id == "r1"
    with pytest.raises(UnroutableError):
        adapter.parse_envelope(
            IngestEnvelope(json.dumps(ERRORED).encode(), adapter.SOURCE, "r2", RECEIVED),
            tenants,
        )
    with pytest.raises(AdapterError, match="not JSON"):
        adapter.parse_envelope(
            IngestEnvelope(b"{nope", adapter.SOURCE, "r3", RECEIVED, tenant_id="4242"), tenants
        )


# ---- bad payloads -----------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    payload: dict[str, Any] = copy.deepcopy(ERRORED)
    del payload[key]
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([ERRORED], "body"),
        ("job.run.errored", "body"),
        (_without("eventType"), "eventType"),
        ({**ERRORED, "eventType": "job.run.cancelled"}, "eventType"),
        ({**ERRORED, "eventType": 7}, "eventType"),
        (_without("accountId"), "accountId"),
        ({**ERRORED, "accountId": True}, "accountId"),
        ({**ERRORED, "accountId": "1:2"}, "accountId"),
        ({**ERRORED, "accountId": -1}, "accountId"),
        (_without("data"), "data"),
        ({**ERRORED, "data": ["x"]}, "data"),
        (with_data(ERRORED, jobId=None), "data.jobId"),
        (with_data(ERRORED, jobId=""), "data.jobId"),
        (with_data(ERRORED, jobId="x" * 41), "data.jobId"),
        (with_data(ERRORED, runId={"a": 1}), "data.runId"),
        (with_data(ERRORED, environmentId=[1]), "data.environmentId"),
        (with_data(ERRORED, projectId=1.5), "data.projectId"),
        (with_data(SUCCESS, runStatus=None, runStatusCode=None), "data.runStatus"),
        (with_data(SUCCESS, runStatusCode="10"), "data.runStatusCode"),
    ],
)
def test_a_payload_the_adapter_cannot_trust_is_an_adapter_error_naming_the_field(
    payload: Any, field: str
) -> None:
    with pytest.raises(adapter.PayloadError) as caught:
        parse(payload)
    assert caught.value.field == field
    assert caught.value.rule
    assert isinstance(caught.value, AdapterError)


def test_odd_optional_fields_are_ignored_rather_than_trusted() -> None:
    odd = with_data(
        ERRORED,
        jobName=["x"],
        runStatusMessage={"a": 1},
        runReason=None,
        runStartedAt="yesterday",
        runErroredAt=5,
        environmentName="e" * 5000,
    )
    (alert,) = parse(odd)
    assert alert.occurred_at == datetime(2023, 1, 31, 21, 15, 20, 419714, tzinfo=UTC)  # timestamp
    assert alert.resource.name is None
    assert alert.metrics.duration_ms is None
    assert len(alert.summary) <= 1024


# ---- structure-aware mutation -------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet="0123456789", min_size=1, max_size=60),
    st.sampled_from(
        [
            "",
            "None",
            "Success",
            "Errored",
            "job.run.completed",
            "job.run.errored",
            "job.run.started",
            "2023-01-31T21:14:41Z",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00",
            "x" * 3000,
            "a:b",
            "\x00",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BASES = st.sampled_from([STARTED, SUCCESS, ERRORED, COMPLETED_ERROR])
TOP_KEYS = [*sorted({k for p in (STARTED, SUCCESS, ERRORED) for k in p}), "extra"]
DATA_KEYS = [*sorted({k for p in (STARTED, SUCCESS, ERRORED) for k in p["data"]}), "extra"]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A documented payload with a few fields replaced, deleted, wrapped or re-typed."""
    payload = copy.deepcopy(draw(BASES))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        in_data = draw(st.booleans()) and isinstance(payload.get("data"), dict)
        target = payload["data"] if in_data else payload
        key = draw(st.sampled_from(DATA_KEYS if in_data else TOP_KEYS))
        action = draw(st.sampled_from(["replace", "delete", "wrap", "stringify", "lengthen"]))
        if action == "delete":
            target.pop(key, None)
        elif action == "replace":
            target[key] = draw(VALUES)
        elif action == "wrap" and key in target:
            target[key] = draw(st.sampled_from([[target[key]], {"value": target[key]}]))
        elif action == "stringify" and key in target:
            target[key] = json.dumps(target[key])
        elif action == "lengthen" and isinstance(target.get(key), str):
            target[key] = target[key] * draw(st.integers(min_value=2, max_value=400))
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(st.sampled_from([[payload], json.dumps(payload), None, 3]))
    return payload


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(payload=mutated())
def test_mutated_payloads_give_valid_alerts_or_an_adapter_error(payload: Any) -> None:
    try:
        alerts = parse(payload)
    except AdapterError as exc:
        assert str(exc)
        return
    assert len(alerts) <= 1
    for alert in alerts:
        Alert.model_validate_json(alert.to_json_bytes())  # what the normaliser publishes
        assert alert.dedup_key.startswith("dbt_cloud.job_run:4242:")
        assert len(alert.dedup_key) <= 255 and len(alert.summary) <= 1024
        assert alert.status in ("firing", "resolved")
