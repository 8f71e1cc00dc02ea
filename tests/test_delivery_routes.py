"""The notifier's transport routes a page the way requests would have, for any environment.

The model is requests itself: for a generated proxy environment (scheme proxies, ALL_PROXY,
NO_PROXY with hosts, domain suffixes, CIDRs and ports) and generated receiver URLs, the
proxy ``requests.Session`` picks for each URL must be the one the transport posts through.
The transport decides once per origin and reuses it for every path and query on it (an
Opsgenie close carries the alias in its path), so URLs sharing an origin are drawn on
purpose: a rule that read more than the scheme and host would show up here.
"""

from __future__ import annotations

import os
from unittest import mock

import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.utils import select_proxy

from alertbridge.notify.delivery import Transport

HOSTS = [
    "events.pagerduty.com",
    "hooks.slack.com",
    "api.eu.opsgenie.com",
    "hooks.internal.example",
    "deep.hooks.internal.example",
    "10.1.2.3",
    "10.200.0.9",
    "192.168.7.7",
    "127.0.0.1",
    "localhost",
]
PROXIES = ["http://proxy-a.example:3128", "http://proxy-b.example:8080"]
NO_PROXY_ENTRIES = [
    "hooks.slack.com",
    ".internal.example",
    "internal.example",
    "10.0.0.0/8",
    "192.168.7.7",
    "127.0.0.1",
    "localhost",
    "api.eu.opsgenie.com:443",
    "*",
]
PROXY_VARIABLES = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
]

environments = st.fixed_dictionaries(
    {},
    optional={
        "HTTP_PROXY": st.sampled_from(PROXIES),
        "HTTPS_PROXY": st.sampled_from(PROXIES),
        "ALL_PROXY": st.sampled_from(PROXIES),
        "NO_PROXY": st.lists(st.sampled_from(NO_PROXY_ENTRIES), max_size=4).map(",".join),
    },
)
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(HOSTS),
    st.sampled_from(["", ":443", ":8443"]),
    st.sampled_from(["/v2/enqueue", "/services/T0/B0/x", "/v2/alerts/a%2Fb/close?x=1", "/"]),
)


def requests_choice(url: str) -> str | None:
    """What a requests.Session with the environment trusted would post this URL through."""
    session = requests.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    proxy: str | None = select_proxy(url, settings["proxies"])
    return proxy or None


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(environ=environments, batch=st.lists(urls, min_size=1, max_size=8))
def test_the_transport_routes_every_url_through_the_proxy_requests_would_choose(
    environ: dict[str, str], batch: list[str]
) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    with mock.patch.dict(os.environ, {**clean, **environ}, clear=True):
        transport = Transport({})
        for url in batch:
            expected = requests_choice(url)
            route = transport.route(url)
            if expected is None:
                assert route is transport._direct, (url, environ)
            else:
                assert route is transport._proxied[expected], (url, environ, expected)
