"""The token function must not pay at cold start for what it never uses: the Pub/Sub
client, prometheus-client (loaded on the first scrape only), the Alert models, pydantic
and the tenants models (it reads only the service accounts)."""

from __future__ import annotations

import os
import re
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


# The token function's archive installs functions/requirements-token.txt only. Serve it in a
# fresh interpreter where every installed distribution outside that lock is unimportable, as
# if absent (ModuleNotFoundError, which is what PyJWT's probe for cryptography catches).
ONLY_TOKEN_LOCK = """
import importlib.abc, importlib.metadata, re, sys
allowed = {re.sub(r"[-_.]+", "-", n).lower() for n in ALLOWED}
blocked = set()
for module, dists in importlib.metadata.packages_distributions().items():
    if not any(re.sub(r"[-_.]+", "-", d).lower() in allowed for d in dists):
        blocked.add(module)
blocked -= set(sys.stdlib_module_names) | {"alertbridge", "main", "_distutils_hack"}
refused = []

class NotInTheArchive(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInTheArchive())
import functions_framework
app = functions_framework.create_app(target="token", source=MAIN)
client = app.test_client()
token = client.post("/authn/v1/oauth2/token", data={
    "grant_type": "password", "username": "acme-etl", "password": "acme-demo-secret"})
assert token.status_code == 200, token.get_data()
import jwt
claims = jwt.decode(token.get_json()["access_token"], options={"verify_signature": False})
assert claims["sub"] == "acme-etl", claims
wrong = client.post("/authn/v1/oauth2/token", data={
    "grant_type": "password", "username": "acme-etl", "password": "not-it"})
assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant", wrong.get_data()
for path in ("/health", "/metrics", "/metrics/prometheus"):
    got = client.get(path)
    assert got.status_code == 200, (path, got.status_code, got.get_data()[:300])
print("refused:", sorted({r.split(".")[0] for r in refused}))
print("loaded:", sorted(
    m for m in ("cryptography", "pydantic", "google.auth", "starlette") if m in sys.modules))
"""


def test_the_token_function_serves_every_route_with_only_its_archives_requirements() -> None:
    lock = (ROOT / "functions" / "requirements-token.txt").read_text()
    allowed = sorted(set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.MULTILINE)))
    assert "pyjwt" in allowed and "cryptography" not in allowed
    env = {
        **os.environ,
        "ALERTBRIDGE_TENANTS_FILE": str(EXAMPLE_TENANTS),
        "ALERTBRIDGE_JWT_KEYS": '{"k1": "' + "x" * 40 + '"}',
        # as Cloud Functions sets it: main.py then leaves out the uvicorn twins (starlette)
        "FUNCTION_TARGET": "token",
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    code = f"ALLOWED = {allowed!r}\nMAIN = {str(ROOT / 'functions' / 'main.py')!r}\n"
    out = subprocess.run(
        [sys.executable, "-c", code + ONLY_TOKEN_LOCK],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert "loaded: []" in lines, out.stdout[-2000:]
    # the blocker was in the way of something real: PyJWT probed for cryptography and went on
    refused = next(line for line in lines if line.startswith("refused:"))
    assert "'cryptography'" in refused, refused
