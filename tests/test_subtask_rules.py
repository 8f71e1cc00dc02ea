"""Every rule of the seed's Sub-Task Messaging API body table, at its boundaries."""

from __future__ import annotations

from typing import Any

import pytest

from alertbridge.bodies import parse_object
from alertbridge.errors import ApiError
from alertbridge.sources.subtask.adapter import validate
from conftest import subtask_body


def failing_fields(body: dict[str, Any]) -> dict[str, str]:
    message, problems = validate(body)
    assert (message is None) == bool(problems)
    return {p.field: p.rule for p in problems}


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("envId", 1, 9),
        ("msgCode", 1, 254),
        ("operationId", 1, 19),
        ("stepCode", 1, 9),
        ("stepId", 1, 9),
    ],
)
def test_bounded_integers_accept_their_range_and_refuse_one_past_each_end(
    field: str, low: int, high: int
) -> None:
    assert failing_fields(subtask_body(**{field: low})) == {}
    assert failing_fields(subtask_body(**{field: high})) == {}
    assert failing_fields(subtask_body(**{field: low - 1})) == {field: f"integer {low}-{high}"}
    assert failing_fields(subtask_body(**{field: high + 1})) == {field: f"integer {low}-{high}"}


@pytest.mark.parametrize("field", ["pipeId", "placeholder1", "placeholder2"])
def test_positive_integers_refuse_zero_and_accept_large_values(field: str) -> None:
    assert failing_fields(subtask_body(**{field: 0})) == {field: "integer >= 1"}
    assert failing_fields(subtask_body(**{field: -3})) == {field: "integer >= 1"}
    assert failing_fields(subtask_body(**{field: 2**40})) == {}


@pytest.mark.parametrize("value", [True, 1.5, "1.0", "one", "", None, [1], {"a": 1}, "1e3"])
def test_integers_must_be_integers(value: Any) -> None:
    body = subtask_body()
    body["envId"] = value
    assert "envId" in failing_fields(body)


def test_numbers_as_strings_are_accepted_as_a_form_body_sends_them() -> None:
    body = {k: str(v) for k, v in subtask_body().items()}
    message, problems = validate(body)
    assert problems == [] and message is not None
    assert message.envId == 1 and message.tenantId == "4242"


@pytest.mark.parametrize("version", ["v1.0.0", "v10.20.30", "v0.0.1"])
def test_git_version_accepts_v_int_int_int(version: str) -> None:
    assert failing_fields(subtask_body(gitVersion=version)) == {}


@pytest.mark.parametrize(
    "version", ["1.0.0", "v1.0", "v1.0.0.0", "v1.a.0", "V1.0.0", "v1.0.0-rc1", " v1.0.0", "v-1.0.0"]
)
def test_git_version_refuses_other_forms(version: str) -> None:
    assert failing_fields(subtask_body(gitVersion=version)) == {"gitVersion": "v<int>.<int>.<int>"}


@pytest.mark.parametrize("job", ["job-1", "scheduled-job-nightly-01", "job-a1b2c3d4-e5f6"])
def test_job_id_accepts_both_prefixes(job: str) -> None:
    assert failing_fields(subtask_body(jobId=job)) == {}


@pytest.mark.parametrize(
    "job", ["job-", "scheduled-job-", "jobs-1", "1-job-2", "job 1", "JOB-1", ""]
)
def test_job_id_refuses_missing_or_wrong_prefix(job: str) -> None:
    assert failing_fields(subtask_body(jobId=job)) == {"jobId": "prefix job- or scheduled-job-"}


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-25T01:02:03",
        "2026-11-25 1:02:03",
        "2026-02-30 01:02:03",
        "2026-11-25 24:00:00",
        "25-11-2026 01:02:03",
        "2026-11-25 01:02:03Z",
    ],
)
def test_timestamp_must_be_a_real_yyyy_mm_dd_hh_mm_ss(stamp: str) -> None:
    assert failing_fields(subtask_body(timestamp=stamp)) == {"timestamp": "yyyy-MM-dd HH:mm:ss"}


def test_every_missing_field_is_listed_with_its_rule() -> None:
    problems = failing_fields({})
    assert set(problems) == {
        "envId",
        "gitVersion",
        "jobId",
        "msgCode",
        "operationId",
        "pipeId",
        "placeholder1",
        "placeholder2",
        "stepCode",
        "stepId",
        "tenantId",
        "timestamp",
    }
    assert set(problems.values()) == {"required"}


def test_unknown_fields_are_refused_by_name() -> None:
    assert failing_fields(subtask_body(msgcode=5)) == {"msgcode": "known field"}


def test_form_body_under_a_json_content_type_is_read_as_a_form() -> None:
    body = b"jobId=job-1&pipeId=7&envId=1"
    assert parse_object(body, "application/json", allow_form=True) == {
        "jobId": "job-1",
        "pipeId": "7",
        "envId": "1",
    }


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'{"a": NaN}', "json"),
        (b'{"a": 1, "a": 2}', "json"),
        (b"[1, 2]", "object"),
        (b"\xff\xfe{}", "utf-8"),
        (b"{" * 40 + b"}" * 40, "json"),
    ],
)
def test_malformed_json_bodies_name_the_rule(body: bytes, rule: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_object(body, "application/json", allow_form=False)
    assert caught.value.status == 400
    assert caught.value.details[0].field == "body"
    assert caught.value.details[0].rule in (rule, "depth<=32")


def test_unsupported_content_type_is_415() -> None:
    with pytest.raises(ApiError) as caught:
        parse_object(b"<a/>", "application/xml", allow_form=True)
    assert caught.value.status == 415
