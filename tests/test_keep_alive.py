"""A sender that pools connections keeps using them: the uvicorn-served functions hold an idle
keep-alive connection open well past gunicorn's 2 s default, which functions-framework's
uvicorn worker would otherwise inherit (under load its timer raced pooled senders' requests
into connection resets). Served the way Cloud Functions and the local stack serve them:
``python -m functions_framework --target ingress_asgi`` in a process of its own."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from alertbridge.asgi import KEEP_ALIVE_S
from alertbridge_dev.devstack import DevStack, functions_framework_argv
from alertbridge_dev.emulator import Emulator, free_port, wait_until
from conftest import EXAMPLE_TENANTS

GUNICORN_DEFAULT_KEEP_ALIVE_S = 2


@pytest.fixture
def served(emulator: Emulator) -> Iterator[int]:
    port = free_port()
    # the environment the local stack gives its HTTP functions, plus what Cloud Functions sets
    env = DevStack(
        EXAMPLE_TENANTS,
        port,
        project="keep-alive-test",
        emulator_host=emulator.host,
        extra_env={"FUNCTION_TARGET": "ingress_asgi"},
    ).env()
    process = subprocess.Popen(
        functions_framework_argv(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the gunicorn worker goes with the group
    )
    try:
        assert wait_until(lambda: _metrics(port) == 200 or process.poll() is not None, 60, 0.1)
        assert process.poll() is None, "functions-framework exited"
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _metrics(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/metrics")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def _get_metrics_on(sock: socket.socket) -> int:
    """One request on an already open connection (no reconnect, unlike http.client)."""
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()  # RemoteDisconnected / ConnectionResetError when the server closed it
    response.read()
    assert not response.will_close, "the server announced it would close the connection"
    return response.status


def test_an_idle_keep_alive_connection_still_serves_after_gunicorns_default_timeout(
    served: int,
) -> None:
    assert KEEP_ALIVE_S > GUNICORN_DEFAULT_KEEP_ALIVE_S
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        assert _get_metrics_on(sock) == 200
        # idle is the behaviour under test, not a wait for something to happen
        time.sleep(GUNICORN_DEFAULT_KEEP_ALIVE_S + 1.5)
        assert _get_metrics_on(sock) == 200
