"""The token function must not pay at cold start for what it never uses: the Pub/Sub
client, prometheus-client (loaded on the first scrape only), the Alert models, pydantic
and the tenants models (it reads only the service accounts)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import EXAMPLE_TENANTS, ROOT

CODE = f"""
import sys
import functions_framework
app = functions_framework.create_app(target="token", source={str(ROOT / "functions" / "main.py")!r})
response = app.test_client().post("/authn/v1/oauth2/token", data={{
    "grant_type": "password", "username": "acme-etl", "password": "acme-demo-secret"}})
assert response.status_code == 200, response.get_data()
health = app.test_client().get("/health")
assert health.status_code == 200 and health.get_json()["checks"]["accounts"]["count"] == 2
heavy = ("google.cloud.pubsub", "prometheus_client", "alertbridge.alert", "pydantic",
         "alertbridge.tenants", "alertbridge.sources.subtask.config")
print("imported:", sorted(m for m in sys.modules if m.startswith(heavy)))
"""


def test_serving_a_token_imports_no_pubsub_client_metrics_library_or_alert_models() -> None:
    env = {
        **os.environ,
        "ALERTBRIDGE_TENANTS_FILE": str(EXAMPLE_TENANTS),
        "ALERTBRIDGE_JWT_KEYS": '{"k1": "' + "x" * 40 + '"}',
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "imported: []" in out.stdout.splitlines(), out.stdout[-2000:]


def test_a_cold_function_does_not_scan_installed_distributions_for_pydantic_plugins() -> None:
    """pydantic's plugin lookup reads every distribution's entry points on the first model
    (5-10 ms of cold start here); alertbridge turns it off unless the deployer set it."""
    env = {
        **os.environ,
        "ALERTBRIDGE_TENANTS_FILE": str(EXAMPLE_TENANTS),
        "ALERTBRIDGE_JWT_KEYS": '{"k1": "' + "x" * 40 + '"}',
    }
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    env.pop("PUBSUB_EMULATOR_HOST", None)
    # the token function builds no model: load the tenants as every other function does
    code = """
from alertbridge.runtime import get_runtime
assert len(get_runtime().tenants) == 2
from pydantic.plugin import _loader
print("plugins scanned" if _loader._plugins is not None else "plugins not scanned")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "plugins not scanned" in out.stdout.splitlines()
