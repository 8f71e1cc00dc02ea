"""Password guessing at the token endpoint: who a client is, concurrent guesses, eviction.

Every test runs the buckets on a clock that stands still, so nothing refills while a
loop runs (scrypt alone takes ~60 ms per request) and the counts are exact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from alertbridge.auth.endpoint import CLIENT_BURST, USER_FAILURE_BURST
from alertbridge.ratelimit import TokenBuckets
from alertbridge.runtime import Runtime
from alertbridge.settings import Settings

TOKEN = "/authn/v1/oauth2/token"
FROZEN_AT = 1_000.0


def frozen(runtime: Runtime, max_keys: int = 10_000) -> TokenBuckets:
    runtime.limits = TokenBuckets(max_keys=max_keys, clock=lambda: FROZEN_AT)
    return runtime.limits


def trust_hops(runtime: Runtime, hops: int) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, trusted_proxy_hops=hops)


def guess(client: Any, username: str, attempt: str = "guess", **environ: str) -> Any:
    """A password-grant request; ``environ`` sets the socket peer (REMOTE_ADDR)."""
    form = {"grant_type": "password", "username": username, "password": attempt}
    return client.post(TOKEN, data=form, environ_base=dict(environ))


@dataclasses.dataclass
class Sender:
    """How one attacker's requests reach the function: what it writes in X-Forwarded-For
    (``spoof(i)`` differs on every request) behind ``hops`` trusted proxies."""

    hops: int
    forwarded: Callable[[int], str | None]
    peer: str = "192.0.2.7"


SENDERS = {
    # Cloud Functions: Google's front end appends the address it saw as the last entry.
    "one front end appends the real address": Sender(1, lambda i: f"10.9.{i}.1, 203.0.113.9"),
    # A load balancer in front of the front end: client, then the LB's own entry (varies).
    "two proxies, the last entry varies": Sender(
        2, lambda i: f"10.9.{i}.1, 203.0.113.9, 35.1.{i}.2"
    ),
    # Fewer entries than trusted hops: the header is the client's own, so the peer counts.
    "fewer entries than trusted hops": Sender(2, lambda i: f"10.9.{i}.1"),
    # No proxy trusted: only the socket peer identifies the client.
    "no proxy trusted": Sender(0, lambda i: f"10.9.{i}.1, 203.0.113.{i % 250}"),
}


@pytest.mark.parametrize("name", list(SENDERS))
def test_a_client_cannot_escape_the_per_address_limit_by_writing_x_forwarded_for(
    client: Any, runtime: Runtime, name: str
) -> None:
    sender = SENDERS[name]
    frozen(runtime)
    trust_hops(runtime, sender.hops)
    statuses = []
    for i in range(int(CLIENT_BURST) + 2):
        forwarded = sender.forwarded(i)
        response = client.post(
            TOKEN,
            data={"grant_type": "password", "username": f"u{i}", "password": "x"},
            headers={"X-Forwarded-For": forwarded} if forwarded else {},
            environ_base={"REMOTE_ADDR": sender.peer},
        )
        statuses.append(response.status_code)
    assert statuses == [400] * int(CLIENT_BURST) + [429, 429], statuses
    # another real client (another peer, or another appended address) is not affected
    other = client.post(
        TOKEN,
        data={"grant_type": "password", "username": "u-other", "password": "x"},
        headers={"X-Forwarded-For": "10.9.0.1, 198.51.100.1, 35.1.0.2"},
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    )
    assert other.status_code == 400


def test_trusted_proxy_hops_come_from_the_environment_and_a_bad_value_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALERTBRIDGE_TRUSTED_PROXY_HOPS", raising=False)
    assert Settings.from_env().trusted_proxy_hops == 1  # Cloud Functions' front end
    monkeypatch.setenv("ALERTBRIDGE_TRUSTED_PROXY_HOPS", "0")
    assert Settings.from_env().trusted_proxy_hops == 0
    for bad in ("-1", "two", "1.5"):
        monkeypatch.setenv("ALERTBRIDGE_TRUSTED_PROXY_HOPS", bad)
        with pytest.raises(ValueError, match="ALERTBRIDGE_TRUSTED_PROXY_HOPS"):
            Settings.from_env()


def count_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every scrypt derivation the process runs, as (n, r, p)."""
    real = hashlib.scrypt
    calls: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def counting(*args: Any, **kwargs: Any) -> bytes:
        with lock:
            calls.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)  # the module passwords.py calls
    return calls


def test_concurrent_guesses_at_one_account_are_limited_before_scrypt_runs(
    live_server: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen(runtime)
    scrypt_runs = count_scrypt(monkeypatch)
    threads_n = 16
    start = threading.Barrier(threads_n)
    statuses: list[int] = []
    lock = threading.Lock()

    def attacker(i: int) -> None:
        start.wait(timeout=10)
        response = requests.post(
            live_server + TOKEN,
            data={"grant_type": "password", "username": "acme-etl", "password": f"guess-{i}"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},  # one address each: no client limit
            timeout=30,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    burst = int(USER_FAILURE_BURST)
    # the refused guesses cost no hashing at all
    assert (statuses.count(400), statuses.count(429), len(scrypt_runs)) == (
        burst,
        threads_n - burst,
        burst,
    )


def test_successful_logins_do_not_use_up_the_accounts_failure_allowance(
    client: Any, runtime: Runtime
) -> None:
    frozen(runtime)
    for _ in range(int(USER_FAILURE_BURST) + 2):
        assert guess(client, "acme-etl", "acme-demo-secret").status_code == 200
    statuses = [guess(client, "acme-etl").status_code for _ in range(int(USER_FAILURE_BURST) + 1)]
    assert statuses == [400] * int(USER_FAILURE_BURST) + [429]
    locked = guess(client, "acme-etl", "acme-demo-secret")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 12


def lock_out(client: Any, username: str, peer: str) -> None:
    statuses = [
        guess(client, username, REMOTE_ADDR=peer).status_code
        for _ in range(int(USER_FAILURE_BURST) + 1)
    ]
    assert statuses == [400] * int(USER_FAILURE_BURST) + [429], statuses


def test_spraying_thousands_of_addresses_does_not_evict_a_locked_accounts_counter(
    client: Any, runtime: Runtime
) -> None:
    max_keys = 2_000
    frozen(runtime, max_keys=max_keys)
    trust_hops(runtime, 0)  # the socket peer is the client address: easy to vary here
    lock_out(client, "acme-etl", "192.0.2.1")
    lock_out(client, "decoy", "192.0.2.2")
    # Each sprayed request comes from a new address and is refused by the decoy's own
    # counter, so it costs no scrypt; a shared LRU of max_keys would drop acme-etl's entry.
    for i in range(max_keys + 500):
        peer = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        assert guess(client, "decoy", REMOTE_ADDR=peer).status_code == 429
    assert guess(client, "acme-etl", "acme-demo-secret", REMOTE_ADDR="192.0.2.3").status_code == 429


def test_spraying_unknown_usernames_does_not_evict_a_real_accounts_counter(
    client: Any, runtime: Runtime
) -> None:
    max_keys = 20
    frozen(runtime, max_keys=max_keys)
    trust_hops(runtime, 0)
    lock_out(client, "acme-etl", "192.0.2.1")
    for i in range(2 * max_keys):  # new name, new address: each one runs scrypt once
        assert guess(client, f"nobody-{i}", REMOTE_ADDR=f"10.0.0.{i}").status_code == 400
    assert guess(client, "acme-etl", "acme-demo-secret", REMOTE_ADDR="192.0.2.3").status_code == 429


def test_an_unknown_user_costs_the_same_scrypt_as_a_wrong_password_through_the_endpoint(
    client: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen(runtime)
    scrypt_runs = count_scrypt(monkeypatch)
    known = guess(client, "acme-etl")
    after_known = list(scrypt_runs)
    unknown = guess(client, "nobody-at-all")
    assert known.status_code == unknown.status_code == 400
    bodies = [known.get_json(), unknown.get_json()]
    for body in bodies:
        del body["request_id"]  # differs per request; nothing else may
    assert bodies[0] == bodies[1]
    assert len(after_known) == 1 and scrypt_runs == after_known * 2  # one run each, same n/r/p


def test_ipv6_clients_are_counted_per_64_so_rotating_addresses_in_it_does_not_help(
    client: Any, runtime: Runtime
) -> None:
    frozen(runtime)
    statuses = [
        client.post(
            TOKEN,
            data={"grant_type": "password", "username": f"u{i}", "password": "x"},
            headers={"X-Forwarded-For": f"2001:db8:1:2:{i:x}::{i + 1:x}"},  # one /64
        ).status_code
        for i in range(int(CLIENT_BURST) + 2)
    ]
    assert statuses == [400] * int(CLIENT_BURST) + [429, 429], statuses
    neighbour = client.post(  # the next /64 is someone else
        TOKEN,
        data={"grant_type": "password", "username": "u-other", "password": "x"},
        headers={"X-Forwarded-For": "2001:db8:1:3::1"},
    )
    assert neighbour.status_code == 400
