"""The local receiver that stands in for PagerDuty, Slack, Teams, Opsgenie and webhooks (in
the demo, the tests and the bench) answers the way a real one does on a kept-alive
connection: with Nagle's algorithm on, its reply's body (a second write after the headers)
waited for the sender's delayed ACK, and every page took at least 40 ms at the receiver
(44 ms per post measured, 2 ms without). That was in the bench's PagerDuty row for both
chains, and it weighed on the notifier, which holds an ordering key while it posts."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket

from alertbridge_dev.capture import CaptureServer


def _accepted_end_of(client: socket.socket) -> socket.socket:
    """The receiver's socket for this connection: both ends live in this process."""
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError, ValueError):
            candidate = socket.socket(fileno=os.dup(int(name)))
            try:
                if (
                    candidate.type == socket.SOCK_STREAM
                    and candidate.getsockname() == client.getpeername()
                    and candidate.getpeername() == client.getsockname()
                ):
                    return candidate
            except OSError:
                pass
            candidate.close()
    raise AssertionError("the receiver's end of the connection is not in this process")


def test_the_capture_receiver_replies_on_a_kept_alive_connection_without_nagle(
    capture: CaptureServer,
) -> None:
    host, port = capture.url.removeprefix("http://").split(":")
    event = {
        "routing_key": "k",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "s", "severity": "error"},
    }
    body = json.dumps(event).encode()
    request = (
        f"POST /v2/enqueue HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port)), timeout=10) as client:
        for _ in range(2):  # the same connection serves the next request too
            client.sendall(request)
            response = http.client.HTTPResponse(client)
            response.begin()
            assert response.read() and response.status == 202
            assert not response.will_close
        with _accepted_end_of(client) as accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert len(capture.requests) == 2
