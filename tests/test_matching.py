"""The tenants-file ``match`` (expectations, silences): pure, no emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alertbridge.alert import Alert, Resource
from alertbridge.matching import check_field, fields_of, matches, value_matches
from alertbridge.tenants import TenantsFileError, loads_tenants

AT = datetime(2026, 11, 25, tzinfo=UTC)


def an_alert(**kw: object) -> Alert:
    fields: dict[str, object] = dict(
        id="a1",
        dedup_key="adobe.flow_run:4242:prod:cf4fce79",
        tenant_id="4242",
        source="adobe.flow_run",
        status="firing",
        severity="error",
        summary="flow failed",
        occurred_at=AT,
        received_at=AT,
        resource=Resource(kind="adobe_flow", id="cf4fce79"),
        labels={"sandbox": "prod", "team.name": "data"},
    )
    fields.update(kw)
    return Alert.model_validate(fields)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),  # the whole value, not a prefix
        ("a*", "a", True),  # * matches nothing too
        ("a*c", "a:b:c", True),  # and across separators
        ("*:prod:*", "adobe.flow_run:4242:prod:x", True),
        ("*:prod:*", "adobe.flow_run:4242:dev:x", False),
        ("job?", "jobs", False),  # ? is literal
        ("job?", "job?", True),
        ("[ab]", "a", False),  # [ is literal
        ("[ab]", "[ab]", True),
        ("a.c", "abc", False),  # . is literal
        ("PROD", "prod", False),  # case counts
        ("x*y*z", "x\ny z", True),
    ],
)
def test_a_value_pattern_treats_only_star_as_a_wildcard(
    pattern: str, value: str, expected: bool
) -> None:
    assert value_matches(pattern, value) is expected


def test_every_field_of_a_match_must_match_and_labels_are_addressed_by_name() -> None:
    fields = fields_of(an_alert())
    assert matches({"dedup_key": "adobe.flow_run:4242:*:cf4fce79"}, fields)
    assert matches({"source": "adobe.*", "severity": "error", "resource_id": "cf4fce79"}, fields)
    assert matches({"labels.sandbox": "prod", "labels.team.name": "d*"}, fields)
    assert not matches({"source": "adobe.*", "severity": "critical"}, fields)
    assert not matches({"labels.absent": "*"}, fields)  # a label the alert lacks: no match


def test_a_match_names_only_known_fields_and_non_empty_values() -> None:
    assert check_field("labels.sandbox") == "labels.sandbox"
    with pytest.raises(ValueError, match="not one of source, dedup_key"):
        check_field("summary")
    base = (
        "tenants:\n  - id: 1\n    name: a\n    expectations:\n      - name: n\n        every: 1h\n"
    )
    for match, rule in [
        ("{summary: x}", "match field 'summary' is not one of"),
        ("{labels.: x}", "match field 'labels.' is not one of"),
        ("{}", "a match names at least one field"),
        ('{dedup_key: ""}', "match field 'dedup_key' has an empty value"),
    ]:
        with pytest.raises(TenantsFileError, match=rule) as err:
            loads_tenants(base + f"        match: {match}\n")
        assert "tenants[0].expectations[0].match" in str(err.value)
