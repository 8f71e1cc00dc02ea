"""Structure-aware fuzzing of the source adapters (hypothesis).

Each example starts from a seed payload (the seeds' own samples and fixtures), picks
paths in its JSON tree and replaces, deletes, wraps, lengthens or deeply nests what is
there, or adds a field the adapter reads. Whatever comes out, the adapter must either
return alerts that are valid (and publishable) or raise ``AdapterError``: anything else is
retried blindly by the normaliser and dead-lettered without a reason.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbridge.alert import ID_MAX, Alert
from alertbridge.bodies import json_depth
from alertbridge.pipeline.envelope import IngestEnvelope
from alertbridge.pipeline.normalize import alert_event, alert_message, binding_attributes
from alertbridge.sources import AdapterError
from alertbridge.sources.adobe import adapter as adobe
from alertbridge.sources.informatica import adapter as informatica
from alertbridge.sources.subtask import adapter as subtask
from alertbridge.tenants import load_tenants
from conftest import EXAMPLE_TENANTS, ROOT

TENANTS = load_tenants(EXAMPLE_TENANTS)
SOURCES = ROOT / "functions" / "alertbridge" / "sources"
FIXTURES = ROOT / "tests" / "fixtures"
ACME_ORG = "ACME0000000000000000000A@AdobeOrg"
EXAMPLES = 2000
# A sub-task message is refused for any field off its rule (the seed's table), so few
# mutations leave it valid; the tree-shaped payloads keep many alerts.
MIN_ALERTS = {subtask.SOURCE: 5, adobe.SOURCE: EXAMPLES // 10, informatica.SOURCE: EXAMPLES // 10}
DEEP = "\x00deep\x00"  # placeholder replaced by raw nesting too deep for json.dumps


def _load(path: Any) -> Any:
    # the seeds' fixtures carry placeholder orgs; give them one a tenant owns so that
    # mutations reach the fields read after routing
    return json.loads(path.read_text().replace("{ORG_ID}", ACME_ORG))


def _seeds() -> dict[str, list[Any]]:
    adobe_samples = _load(SOURCES / "adobe" / "samples" / "flow_runs.json")
    failure_fixture = _load(FIXTURES / "adobe_seed_failure.json")
    return {
        subtask.SOURCE: [
            s["body"] for s in _load(SOURCES / "subtask" / "samples" / "messages.json")
        ],
        adobe.SOURCE: [
            adobe_samples["success"],
            *adobe_samples["failure"],
            *adobe_samples["failure"][0]["messages"],
            _load(FIXTURES / "adobe_seed_success.json"),
            *failure_fixture,
            *failure_fixture[0]["messages"],
        ],
        informatica.SOURCE: [
            *(s["event"] for s in _load(SOURCES / "informatica" / "samples" / "events.json")),
            _load(FIXTURES / "informatica_seed_event.json"),
        ],
    }


SEEDS = _seeds()
PARSERS = {
    subtask.SOURCE: subtask.parse,
    adobe.SOURCE: adobe.parse,
    informatica.SOURCE: informatica.parse,
}
# Fields each adapter reads that a seed may lack, so mutations can add them too.
EXTRA_KEYS = {
    subtask.SOURCE: ["x"],
    adobe.SOURCE: [
        "header",
        "_adobeio",
        "eventCode",
        "messages",
        "extensions",
        "errors",
        "manifest",
        "fileInfo",
        "recordSummary",
        "outputRecordCount",
        "inputRecordCount",
        "completedAtUTC",
        "providerRefId",
    ],
    informatica.SOURCE: ["childEvents", "eventHistory", "descendantState", "runId", "comments"],
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path in a JSON tree (the root included), iteratively."""
    stack = [(value, prefix)]
    while stack:
        node, path = stack.pop()
        yield path
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))


def keys_in(value: Any) -> set[str]:
    return {p[-1] for p in paths(value) if p and isinstance(p[-1], str)}


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path``; KeyError when an earlier mutation changed what is there."""
    for step in path:
        if not isinstance(root, dict | list) or isinstance(root, list) != isinstance(step, int):
            raise KeyError(step)
        root = root[step]
    return root


def _nest(value: Any, depth: int, key: str | None) -> Any:
    for _ in range(depth):
        value = [value] if key is None else {key: value}
    return value


def _prepare(seed: Any, source: str) -> tuple[str, st.SearchStrategy[tuple[Any, ...]], list[str]]:
    """A seed as JSON (a fresh copy is one json.loads), its paths (a strategy, built once)
    and the keys mutations may add."""
    known = sorted(keys_in(seed) | set(EXTRA_KEYS[source]))
    return json.dumps(seed), st.sampled_from(sorted(paths(seed), key=repr)), known


PREPARED = {source: [_prepare(seed, source) for seed in SEEDS[source]] for source in SEEDS}

text = st.one_of(
    st.text(max_size=30),
    # edges: datetime's range with an offset, a lone surrogate (not encodable), a URL
    st.sampled_from(
        [
            "",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-11-25T01:02:03",
            "\ud800",
            "https://x",
            "sources_flow_run_failed",
            "Error",
            "failed",
        ]
    ),
    # long strings cheaply: a character repeated past every key and label limit
    st.builds(lambda c, n: c * n, st.characters(), st.integers(250, 3000)),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, 0, 2**63, -(2**63), 10**30, 10**400, 2**31]),
    st.floats(),
    text,
)
# Values of every JSON type and the edges that broke adapters, drawn in one step (most of
# the time: drawing random JSON costs hypothesis far more than the adapter costs to run).
PRESETS = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        1.5,
        float("nan"),
        float("inf"),
        2**63,
        10**400,
        -(10**400),
        "",
        "x",
        "x" * 300,
        "é" * 1000,
        "\ud800",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        [],
        {},
        [None],
        [{}],
        {"": None},
        {"errors": "x"},
        {"extensions": []},
        [[[[[]]]]],
    ]
).map(copy.deepcopy)  # later mutations write into what they drew
random_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)
    ),
    max_leaves=5,
)
values = st.one_of(PRESETS, PRESETS, PRESETS, random_values)


@st.composite
def mutated(draw: st.DrawFn, source: str) -> tuple[bytes, str | None]:
    """A seed with one to three structural mutations, as the bytes on the ingest topic."""
    seed, seed_paths, known = draw(st.sampled_from(PREPARED[source]))
    doc: Any = json.loads(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(seed_paths)
        try:
            target = _get(doc, path)
        except (KeyError, IndexError):  # an earlier mutation removed it
            continue
        kind = draw(
            st.sampled_from(
                ["replace", "replace", "wrap", "nest", "lengthen", "delete", "add", "deep"]
            )
        )
        if kind == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(known))] = draw(values)
            continue
        if kind == "replace":
            new: Any = draw(values)
        elif kind == "wrap":
            new = draw(st.sampled_from([[target], {"value": target}, [target, target], []]))
        elif kind == "nest":
            key = draw(st.none() | st.sampled_from(known))
            new = _nest(target, draw(st.integers(2, 40)), key)
        elif kind == "lengthen" and isinstance(target, str):
            new = target * draw(st.integers(2, 400)) or "x" * 300
        elif kind == "lengthen":
            new = draw(st.sampled_from([10**400, -(10**400), "9" * 5000, 2**64]))
        elif kind == "deep":
            new = DEEP
        elif kind == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
            continue
        else:
            new = draw(values)
        if not path:
            doc = new
        else:
            _get(doc, path[:-1])[path[-1]] = new
    data, marker = json.dumps(doc), json.dumps(DEEP)
    if marker in data:
        depth = draw(st.sampled_from([100, 1_000, 50_000]))
        data = data.replace(marker, "[" * depth + "]" * depth, 1)
    tenant = draw(st.sampled_from([None, "4242", "5151", "nobody", "", "x" * 300]))
    return data.encode(), tenant


def envelope(source: str, data: bytes, tenant: str | None) -> IngestEnvelope:
    return IngestEnvelope(
        data,
        source,
        "req-prop",
        datetime(2026, 11, 25, tzinfo=UTC),
        tenant_id=tenant,
    )


def check(source: str, data: bytes, tenant: str | None) -> bool:
    """The property: valid, publishable alerts or AdapterError. True when alerts came out."""
    try:
        alerts = PARSERS[source](envelope(source, data, tenant), TENANTS)
    except AdapterError:
        return False
    assert isinstance(alerts, list)
    for alert in alerts:
        assert isinstance(alert, Alert)
        # what the normaliser publishes: the JSON must validate again, attributes must build
        assert Alert.model_validate_json(alert.to_json_bytes()) == alert
        assert all(len(value) <= ID_MAX for value in alert.labels.values())
        message = alert_message(alert, "alerts-test")
        assert {k: message.attributes[k] for k in sdk_binding(alert_event(alert))} == (
            sdk_binding(alert_event(alert))
        )
    return True


def sdk_binding(event: CloudEvent) -> dict[str, str]:
    """The attributes as the CloudEvents SDK's binary mode gives them (the oracle)."""
    headers, _ = to_binary(event)
    return {key.lower(): str(value) for key, value in headers.items()}


_ATTRIBUTE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.fixed_dictionaries(
        {"id": _ATTRIBUTE_TEXT, "source": _ATTRIBUTE_TEXT, "type": _ATTRIBUTE_TEXT},
        optional={
            "time": st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat()),
            "subject": _ATTRIBUTE_TEXT,
            "datacontenttype": st.sampled_from(["application/json", "text/plain"]),
            "dataschema": _ATTRIBUTE_TEXT,
        },
    ),
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True), _ATTRIBUTE_TEXT),
)
def test_binding_attributes_are_what_the_sdks_to_binary_gives(
    context: dict[str, str], extensions: dict[str, str]
) -> None:
    attributes = {**{k: v for k, v in extensions.items() if k not in _CONTEXT_NAMES}, **context}
    event = CloudEvent(attributes, None)
    assert binding_attributes(event) == sdk_binding(event)


_CONTEXT_NAMES = {
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "specversion",
    "data",
}


@pytest.mark.parametrize("source", sorted(PARSERS))
def test_mutated_seed_payloads_give_valid_alerts_or_adapter_error(source: str) -> None:
    outcomes = {True: 0, False: 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(source))
    def run(example: tuple[bytes, str | None]) -> None:
        outcomes[check(source, *example)] += 1

    started, cpu = time.monotonic(), time.process_time()
    run()
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    print(
        f"\n{source}: {sum(outcomes.values())} examples in {elapsed:.1f}s ({cpu:.1f}s CPU), "
        f"{outcomes[True]} gave alerts, {outcomes[False]} AdapterError"
    )
    # the mutations must not only produce garbage: a share still yields alerts
    assert outcomes[True] >= MIN_ALERTS[source] and outcomes[False] >= EXAMPLES // 10


def _edge(source: str, seed: int, path: tuple[Any, ...], value: Any) -> bytes:
    doc = copy.deepcopy(SEEDS[source][seed])
    _get(doc, path[:-1])[path[-1]] = value
    return json.dumps(doc).encode()


CIH_FAILED = {**SEEDS[informatica.SOURCE][0], "eventStatus": "Error", "childEvents": []}
EDGES = {
    # an offset at the end of datetime's range overflowed converting to UTC
    "cih-time-at-datetime-edge": (
        informatica.SOURCE,
        json.dumps({**CIH_FAILED, "completionTime": "0001-01-01T00:00:00+01:00"}).encode(),
    ),
    # a lone surrogate cannot be encoded: the alert could never be serialised
    "cih-lone-surrogate": (
        informatica.SOURCE,
        json.dumps({**CIH_FAILED, "topicName": "\ud800"}).encode(),
    ),
    "cih-2000-deep": (informatica.SOURCE, b'{"eventId": ' + b"[" * 2000 + b"]" * 2000 + b"}"),
    "adobe-start-10e400": (
        adobe.SOURCE,
        _edge(adobe.SOURCE, 0, ("event", "metrics", "durationSummary", "startedAtUTC"), 10**400),
    ),
    "adobe-provider-ref-number": (
        adobe.SOURCE,
        _edge(adobe.SOURCE, 0, ("event", "providerRefId"), 7),
    ),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_values_give_valid_alerts_or_adapter_error(name: str) -> None:
    source, data = EDGES[name]
    check(source, data, "4242")


def reference_depth(value: Any) -> int:
    """Depth by its definition: a scalar is 1, a container one more than its deepest item."""
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(_JSON, st.integers(min_value=1, max_value=8))
def test_json_depth_is_the_nesting_depth_or_past_the_limit(value: Any, limit: int) -> None:
    """The flat-object shortcut and the walk agree with the definition: the exact depth up
    to the limit, and something past the limit when it is deeper."""
    depth = json_depth(value, limit)
    expected = reference_depth(value)
    if expected <= limit:
        assert depth == expected
    else:
        assert limit < depth <= expected
