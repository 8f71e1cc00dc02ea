"""On-call delivery against a local server speaking PagerDuty Events v2 and Slack webhooks."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alertbridge.alert import Alert, AlertError, Link, Resource
from alertbridge.expectations.check import SEEN
from alertbridge.notify import silences
from alertbridge.notify.decide import decide
from alertbridge.notify.delivery import Backoff, post_json
from alertbridge.notify.handler import COLLECTION, handle_alert
from alertbridge.notify.pagerduty import payload as pagerduty
from alertbridge.notify.slack import payload as slack
from alertbridge.pipeline.normalize import alert_message
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
from alertbridge.state import FirestoreStore, StateStore
from alertbridge_dev.capture import CaptureServer
from alertbridge_dev.worker import NotifyWorker
from conftest import TopicWatch

FAST = Backoff(attempts=4, base_s=0.001, cap_s=0.01, timeout_s=2)


def alert(status: str = "firing", severity: str = "error", key: str = "k1", **kw: Any) -> Alert:
    fields: dict[str, Any] = dict(
        id=f"{key}-{status}",
        dedup_key=key,
        tenant_id="4242",
        source="adobe.flow_run",
        status=status,
        severity=severity,
        summary=f"flow {key} {status}",
        occurred_at=datetime(2026, 11, 25, tzinfo=UTC),
        received_at=datetime(2026, 11, 25, tzinfo=UTC),
        resource=Resource(kind="adobe_flow", id=key, parent="sandbox prod"),
        errors=[AlertError(code="CONNECTOR-2001-500", message="processing failed")],
        links=[Link(href="https://platform.adobe.io/x", text="manifest")],
    )
    fields.update(kw)
    return Alert(**fields)


def send(runtime: Runtime, a: Alert) -> list[Any]:
    return handle_alert(
        runtime,
        a.to_json_bytes(),
        {"tenant_id": a.tenant_id},
        "m",
        backoff=FAST,
        sleep=lambda _s: None,
    )


def of(capture: CaptureServer, path: str) -> list[Any]:
    return [c for c in capture.requests if c.path.startswith(path)]


@contextlib.contextmanager
def served(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A receiver of the test's own on loopback: its base URL while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- pure mapping and decision -------------------------------------------------------------


def test_pagerduty_event_has_the_events_v2_fields() -> None:
    event = pagerduty.event(alert(summary="x" * 1024), "RK")
    assert event["routing_key"] == "RK" and event["event_action"] == "trigger"
    assert event["dedup_key"] == "k1"
    payload = event["payload"]
    assert len(payload["summary"]) == 1024
    assert payload["severity"] == "error" and payload["source"] == "sandbox prod"
    assert {"component", "group", "class", "custom_details", "timestamp"} <= set(payload)
    assert payload["custom_details"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    assert event["links"] == [{"href": "https://platform.adobe.io/x", "text": "manifest"}]
    assert pagerduty.event(alert("resolved", "info"), "RK") == {
        "routing_key": "RK",
        "event_action": "resolve",
        "dedup_key": "k1",
    }


def test_pagerduty_body_is_kept_under_512_kb() -> None:
    huge = alert(labels={f"l{i}": "v" * 1000 for i in range(600)})
    event = pagerduty.event(huge, "RK")
    assert len(json.dumps(event).encode()) <= 512 * 1024
    assert event["payload"]["custom_details"] == {"truncated": "custom details exceeded 512 KB"}


def test_slack_message_is_block_kit_with_a_fallback() -> None:
    fired, resolved = slack.message(alert()), slack.message(alert("resolved", "info"))
    assert fired["text"].startswith("ERROR:") and fired["blocks"][0]["type"] == "section"
    assert "CONNECTOR-2001-500" in json.dumps(fired["blocks"])
    assert (
        resolved["text"].startswith("RESOLVED:")
        and "Resolved" in resolved["blocks"][0]["text"]["text"]
    )


@pytest.mark.parametrize(
    ("previous", "a", "minimum", "action"),
    [
        (None, alert(), "error", "send"),
        ({"open": True}, alert(), "error", "skip_repeat"),
        ({"open": True}, alert("resolved", "info"), "error", "send"),
        (None, alert("resolved", "info"), "error", "skip_not_open"),
        ({"open": False}, alert("resolved", "info"), "error", "skip_not_open"),
        (None, alert(severity="warning"), "error", "skip_below_threshold"),
        (None, alert(severity="critical"), "error", "send"),
    ],
)
def test_page_once_decisions(previous: Any, a: Alert, minimum: str, action: str) -> None:
    assert decide(previous, a, minimum) == action


# ---- delivery against the capture server ---------------------------------------------------


def test_429_then_202_delivers_once_after_a_retry(capture: CaptureServer) -> None:
    capture.script("/v2/enqueue", [429])
    result = post_json(
        f"{capture.url}/v2/enqueue", pagerduty.event(alert(), "RK"), FAST, sleep=lambda _s: None
    )
    assert result.ok and result.attempts == 2
    assert [c.status for c in capture.requests] == [429, 202]


def test_400_is_never_retried(capture: CaptureServer) -> None:
    result = post_json(
        f"{capture.url}/v2/enqueue", {"event_action": "trigger"}, FAST, sleep=lambda _s: None
    )
    assert not result.ok and result.rejected and result.attempts == 1
    assert len(capture.requests) == 1 and capture.requests[0].status == 400


def test_backoff_grows_with_full_jitter_and_honours_retry_after(capture: CaptureServer) -> None:
    capture.script("/v2/enqueue", [500, 500, 500])
    slept: list[float] = []
    backoff = Backoff(attempts=4, base_s=1.0, cap_s=3.0, timeout_s=2)
    result = post_json(
        f"{capture.url}/v2/enqueue",
        pagerduty.event(alert(), "RK"),
        backoff,
        sleep=slept.append,
        rand=lambda: 1.0,
    )
    assert result.ok and slept == [1.0, 2.0, 3.0]  # 1, 2, 4 capped at 3


# ---- the notifier end to end (Firestore emulator for state, Pub/Sub for dead letters) -------


def test_trigger_repeat_resolve_pages_once_and_resolves_once(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    send(runtime, alert())
    send(runtime, alert())  # the same failure again
    send(runtime, alert(id="k1-firing-again"))  # another run failing the same way
    send(runtime, alert("resolved", "info"))
    pd = of(destinations, "/v2/enqueue")
    assert [c.body["event_action"] for c in pd] == ["trigger", "resolve"]
    assert {c.body["dedup_key"] for c in pd} == {"k1"}
    sl = of(destinations, "/slack/4242")
    assert [c.body["text"].split(":")[0] for c in sl] == ["ERROR", "RESOLVED"]


def test_severity_threshold_filters_per_destination(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    send(runtime, alert(severity="warning", key="w"))  # slack >= warning, pagerduty >= error
    send(runtime, alert(severity="info", key="i"))
    assert of(destinations, "/v2/enqueue") == []
    assert len(of(destinations, "/slack/4242")) == 1


def test_a_400_is_dead_lettered_with_the_reason_and_not_retried(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, dead_letters: TopicWatch
) -> None:
    destinations.script("/v2/enqueue", [400])
    outcomes = send(runtime, alert())
    assert {(o.destination, o.action) for o in outcomes} == {
        ("pagerduty", "dead_lettered"),
        ("slack", "sent"),
    }
    assert len(of(destinations, "/v2/enqueue")) == 1
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "delivery_rejected"
    assert (
        dead.attributes["destination"] == "pagerduty"
        and "400" in dead.attributes["dead_letter_detail"]
    )
    assert json.loads(dead.data)["id"] == "k1-firing"
    # not recorded as open: the next firing of the same key pages
    send(runtime, alert(id="k1-second"))
    assert [c.status for c in of(destinations, "/v2/enqueue")] == [400, 202]


def test_a_delivery_that_keeps_failing_is_dead_lettered(
    runtime: Runtime, state: StateStore, destinations: CaptureServer, dead_letters: TopicWatch
) -> None:
    destinations.script("/slack/", [500, 503, 500, 502])
    send(runtime, alert())
    assert len(of(destinations, "/slack/")) == FAST.attempts
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "delivery_failed"
    assert dead.attributes["failed_stage"] == "notify"


def test_missing_routing_key_secret_is_dead_lettered_not_dropped(
    runtime: Runtime, state: StateStore, dead_letters: TopicWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_PAGERDUTY_ROUTING_KEY", raising=False)
    send(runtime, alert())
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "destination_not_configured"
    assert "ACME_PAGERDUTY_ROUTING_KEY" in dead.attributes["dead_letter_detail"]


def test_worker_on_an_ordered_subscription_never_lets_a_resolve_overtake_its_trigger(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    worker = NotifyWorker(runtime).start()
    try:
        keys = [f"flow-{i}" for i in range(5)]
        messages = []
        for key in keys:
            messages.append(alert_message(alert(key=key), "alerts-4242"))
            messages.append(alert_message(alert("resolved", "info", key=key), "alerts-4242"))
        runtime.publisher.publish_and_wait(
            [OutgoingMessage(m.topic, m.data, m.attributes, m.ordering_key) for m in messages]
        )
        sent = destinations.wait_for(20, timeout=30)
        pd = [c.body for c in sent if c.path.startswith("/v2/enqueue")]
        assert len(pd) == 10
        for key in keys:
            assert [b["event_action"] for b in pd if b["dedup_key"] == key] == [
                "trigger",
                "resolve",
            ]
    finally:
        worker.stop()


def test_an_alert_for_a_tenant_no_longer_in_the_file_is_dead_lettered_not_dropped(
    runtime: Runtime, state: StateStore, dead_letters: TopicWatch
) -> None:
    outcomes = send(runtime, alert(tenant_id="9999"))
    assert [o.action for o in outcomes] == ["dead_lettered"]
    (dead,) = dead_letters.pull(1)
    assert dead.attributes["dead_letter_reason"] == "unroutable"


PROXY_VARIABLES = (
    "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY",
    "https_proxy", "http_proxy", "all_proxy", "no_proxy",
)  # fmt: skip


def recording(seen: list[tuple[str, bytes]]) -> type[BaseHTTPRequestHandler]:
    """A handler answering 202 to every POST, keeping each request line's target (an
    absolute URI when it is sent to a proxy) and body in ``seen``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, body))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def test_a_page_goes_through_the_proxy_the_environment_names_unless_no_proxy_names_the_receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notifier behind a corporate proxy reaches PagerDuty through it; a receiver inside
    (NO_PROXY) is posted to directly. Decided by requests' own rules, once per origin."""
    from alertbridge.notify.delivery import Transport

    proxied: list[tuple[str, bytes]] = []
    received: list[tuple[str, bytes]] = []
    with served(recording(proxied)) as proxy_url, served(recording(received)) as receiver_url:
        for name in PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,.internal.example,10.0.0.0/8")
        transport = Transport()
        outside = "http://events.pagerduty.example/v2/enqueue"  # never resolved: the proxy is
        inside = f"{receiver_url}/hooks/page"
        assert post_json(outside, {"page": 1}, Backoff(attempts=1), transport=transport).ok
        assert post_json(inside, {"page": 2}, Backoff(attempts=1), transport=transport).ok
        # a second URL on the same origin (Opsgenie closes by alias in the path) takes the
        # same route, and the table keeps one entry per origin
        assert post_json(
            inside + "/close", {"page": 3}, Backoff(attempts=1), transport=transport
        ).ok
        assert proxied == [(outside, b'{"page": 1}')]
        assert received == [
            ("/hooks/page", b'{"page": 2}'),
            ("/hooks/page/close", b'{"page": 3}'),
        ]
        assert len(transport._routes) == 2
        # the rest of requests' rules: a domain suffix and a CIDR in NO_PROXY, the scheme's
        # own variable, ALL_PROXY for a scheme without one
        assert transport.proxy_for("http://hooks.internal.example/x") is None
        assert transport.proxy_for("http://10.1.2.3:8080/x") is None
        assert transport.proxy_for("https://events.pagerduty.com/v2/enqueue") is None
        monkeypatch.setenv("ALL_PROXY", "http://all-proxy.example:3128")
        assert transport.proxy_for("https://events.pagerduty.com/v2/enqueue") == (
            "http://all-proxy.example:3128"
        )
        assert transport.proxy_for("http://11.1.2.3/x") == proxy_url


def test_a_redirect_is_an_answer_not_followed_and_not_retried() -> None:
    """A POST redirected (301/302) would reach its new place as a GET without the page:
    it is reported as what the receiver answered, and never retried."""
    from alertbridge.notify.delivery import Transport

    hits: list[str] = []

    class Moved(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.command)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def do_GET(self) -> None:
            hits.append(self.command)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with served(Moved) as base:
        result = post_json(
            f"{base}/hook", {"page": 1}, Backoff(attempts=3), transport=Transport({})
        )
    assert (result.ok, result.status, result.attempts, result.rejected) == (False, 302, 1, False)
    assert hits == ["POST"]


def _private_authority(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A corporate CA's bundle, and a certificate for 127.0.0.1 it signed (with its key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    bundle, chain, key = tmp_path / "corp-ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"
    bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return bundle, chain, key


def test_a_ca_bundle_named_in_the_environment_is_the_one_a_delivery_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver whose certificate only that bundle vouches for is reached (the bundle is
    read once, when the process's transport is made)."""
    import ssl

    from alertbridge.notify import delivery

    bundle, chain, key = _private_authority(tmp_path)
    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setattr(delivery, "_transport", None)
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/"
        result = delivery.post_json(url, {"page": 1}, delivery.Backoff(attempts=1))
        assert result.ok and result.status == 202 and received == [b'{"page": 1}']
        # without the bundle the same receiver is refused: the bundle is what was trusted
        plain = delivery.Transport({})  # requests' default trust store (certifi) only
        refused = delivery.post_json(
            url, {"page": 2}, delivery.Backoff(attempts=1), transport=plain
        )
        assert not refused.ok and refused.detail == "SSLError" and len(received) == 1
    finally:
        server.shutdown()
        monkeypatch.setattr(delivery, "_transport", None)


def test_a_page_writes_its_sign_of_life_in_the_same_commit_as_its_first_claim(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    """The sign of life (what `expectations suggest` reads) rides along with the first
    destination's claim: two documents created by one commit carry the same create_time.
    A page costs two commits at most (claim, record after the send), not three."""
    assert isinstance(state, FirestoreStore)
    send(runtime, alert(key="one-commit"))
    assert len(of(destinations, "/v2/enqueue")) == 1 and len(of(destinations, "/slack/4242")) == 1
    claim = state._ref(COLLECTION, "4242|pagerduty|one-commit").get()
    seen = state._ref(SEEN, "4242|one-commit").get()
    assert claim.exists and seen.exists
    assert seen.create_time == claim.create_time
    assert seen.to_dict()["ids"] == ["one-commit-firing"]
    # written once: the second destination's claim does not carry it again (that claim
    # may share the commit anyway: concurrent callers are grouped, `GroupCommit`)
    assert seen.update_time == seen.create_time
    assert state._ref(COLLECTION, "4242|slack|one-commit").get().exists


def test_a_silenced_alert_is_still_a_sign_of_life(
    runtime: Runtime, state: StateStore, destinations: CaptureServer
) -> None:
    """No claim to ride along with: the sign of life is written on its own."""
    silences.add(state, runtime.tenants, "4242", {"dedup_key": "hushed"}, time.time() + 600, "m", 0)
    (held, _) = send(runtime, alert(key="hushed"))
    assert held.action == "silenced" and of(destinations, "/v2/enqueue") == []
    seen = state.get(SEEN, "4242|hushed")
    assert seen is not None and seen["ids"] == ["hushed-firing"]


def test_the_notified_log_line_says_where_the_pages_time_went(
    runtime: Runtime,
    state: StateStore,
    destinations: CaptureServer,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``claim_ms``, ``post_ms`` and ``record_ms`` on each "notified" line: a PagerDuty that
    takes a second to answer shows in ``post_ms``, not in the claim or the record."""
    import sys

    delay_s = 1.0

    class SlowPagerDuty(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay_s)  # the receiver under test is slow: the behaviour, not a wait
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with served(SlowPagerDuty) as base:
        monkeypatch.setenv("ALERTBRIDGE_PAGERDUTY_URL", f"{base}/v2/enqueue")
        outcomes = send(runtime, alert(key="timed"))
    assert sorted(o.action for o in outcomes) == ["sent", "sent"]  # PagerDuty and Slack
    out, err = capfd.readouterr()
    sys.stdout.write(out)  # handed back: the autouse secret scan reads them too
    sys.stderr.write(err)
    lines = [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]
    timed = {
        line["destination"]: line
        for line in lines
        if line.get("message") == "notified" and line.get("alert_id") == "timed-firing"
    }
    assert set(timed) == {"pagerduty", "slack"}
    assert timed["pagerduty"]["post_ms"] >= 1000 * delay_s
    assert timed["slack"]["post_ms"] < 1000 * delay_s  # the capture server answers at once
    for line in timed.values():
        assert 0 <= line["claim_ms"] < 1000 * delay_s
        assert 0 <= line["record_ms"] < 1000 * delay_s
