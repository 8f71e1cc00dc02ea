"""Generated bad input for every endpoint (hypothesis): never a 5xx, always a JSON error that
names a field and a rule, and nothing published for any refused request."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbridge.auth.tokens import issue_token
from alertbridge.runtime import Runtime
from alertbridge.sources import specs
from alertbridge.tenants import loads_tenants
from alertbridge_dev.adobe_keys import KeyServer, SigningKey, signed_headers
from conftest import EXAMPLE_TENANTS, TopicWatch, subtask_body

# Every endpoint: the token's and each registered source's, from the source registry.
ENDPOINTS = {"token": "/authn/v1/oauth2/token", **{spec.function: spec.path for spec in specs()}}
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
        "text/xml",
        "text/plain",
        "application/json; charset=utf-16",
        "multipart/form-data",
        "",
        "application/*",
    ]
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        *subtask_body().keys(),
        "eventId",
        "eventStatus",
        "childEvents",
        "grant_type",
        "username",
        "password",
        "event",
        "messages",
        "x",
    ]
)


@st.composite
def near_valid_subtask(draw: Any) -> bytes:
    body = subtask_body()
    for name in draw(st.lists(field_names, min_size=1, max_size=3)):
        body[name] = draw(json_values)
    return json.dumps(body).encode()


@st.composite
def encoded_text(draw: Any) -> bytes:
    text = draw(st.text(max_size=200))
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-32"]))
    return text.encode(encoding, errors="replace")


SPECIAL = [
    b"",
    b"{",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1, "a": 2}',
    b"[" * 5000 + b"]" * 5000,
    b'{"envId": 1e400}',
    b"\xff\xfe\xfd",
    b'{"envId": 99999999999999999999999999999999}',
    '{"jobId": "job-\u00e9"}'.encode("latin-1"),
    '{"a":"b"}'.encode("utf-16"),
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]><event>&b;</event>',
    b"<event><eventId>1</eventId>",
    b"a=1&a=2",
    b"jobId=job-1&envId=%FF",
]
bodies = st.one_of(
    st.binary(max_size=300),
    encoded_text(),
    near_valid_subtask(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(SPECIAL),
)


@pytest.fixture
def open_runtime(runtime: Runtime, key_server: KeyServer) -> Runtime:
    text = EXAMPLE_TENANTS.read_text().replace(
        "requests_per_second: 50", "requests_per_second: 100000"
    )
    runtime.tenants = loads_tenants(text.replace("burst: 100", "burst: 100000"))
    runtime.settings = dataclasses.replace(runtime.settings, adobe_key_host=key_server.url)
    return runtime


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_generated_bad_input_is_refused_cleanly_and_publishes_nothing(
    client: Any, open_runtime: Runtime, ingest: TopicWatch, key_server: KeyServer, endpoint: str
) -> None:
    adobe_key = key_server.publish(SigningKey())
    assert open_runtime.keyring is not None
    token, _ = issue_token(open_runtime.keyring, "acme-etl", ["4242"])
    refused: set[str] = set()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=1500,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=bodies,
        content_type=CONTENT_TYPES,
        with_auth=st.booleans(),
        tenant=st.sampled_from(["4242", "5151", "", "4242\r\nX: y", "ü"]),
    )
    def check(body: bytes, content_type: str, with_auth: bool, tenant: str) -> None:
        headers = {"Content-Type": content_type}
        if with_auth and endpoint == "adobe":  # validly signed garbage reaches the parser
            headers.update(signed_headers(body, adobe_key), **{"Content-Type": content_type})
        elif with_auth:
            headers["Authorization"] = f"Bearer {token}"
        if tenant and "\n" not in tenant:
            headers["Tenant-ID"] = tenant
        response = client.post(ENDPOINTS[endpoint], data=body, headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code >= 400:
            error = response.get_json()
            assert error["error"] and error["status"] == response.status_code
            assert error["details"] and all(d["field"] and d["rule"] for d in error["details"])
            refused.add(error["request_id"])

    check()
    published = {m.attributes["request_id"] for m in ingest.quiet(1.5)}
    assert not published & refused
    assert sum(statuses.values()) >= 1500 and statuses.keys() - {200, 202}, statuses
    print(f"\n{endpoint}: {sum(statuses.values())} generated requests, statuses {statuses}")
