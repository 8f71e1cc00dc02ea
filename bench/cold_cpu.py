import json, os, resource, statistics, subprocess, sys
py = "/work/wt/r2/bench/.venv-deployed/bin/python"
trees = {"before": "/work/wt/before", "after": "/work/wt/r2"}
code = """
import sys, json
sys.path.insert(0, {fn!r})
import functions_framework
app = functions_framework.create_app(target={target!r}, source={fn!r} + "/main.py")
r = app.test_client().post("/authn/v1/oauth2/token", data={{"grant_type": "password", "username": "acme-etl", "password": "acme-demo-secret"}}) if {target!r} == "token" else app.test_client().get("/metrics")
assert r.status_code == 200, r.status_code
"""
from alertbridge.auth.tokens import Keyring
kr = Keyring.generate("x")
res = {t: {"token": [], "subtask": []} for t in trees}
for i in range(12):
    for name, tree in (trees.items() if i % 2 == 0 else reversed(list(trees.items()))):
        for target in ("token", "subtask"):
            env = {**os.environ, "ALERTBRIDGE_TENANTS_FILE": tree + "/config/tenants.example.yaml",
                   "ALERTBRIDGE_JWT_KEYS": json.dumps({k: v.decode() for k, v in kr.keys.items()}),
                   "PUBSUB_EMULATOR_HOST": "127.0.0.1:8681", "ALERTBRIDGE_PROJECT": "cold"}
            env.pop("PYTHONPATH", None)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([py, "-c", code.format(fn=tree + "/functions", target=target)], env=env, check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[name][target].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
for target in ("token", "subtask"):
    b = statistics.median(res["before"][target]); a = statistics.median(res["after"][target])
    print(f"{target:8} CPU ms to first answer: before {b:7.1f}  after {a:7.1f}  after/before {a/b:.2f}  (spread after {min(res['after'][target]):.0f}-{max(res['after'][target]):.0f}, before {min(res['before'][target]):.0f}-{max(res['before'][target]):.0f})")
