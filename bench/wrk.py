"""The wrk runner: a closed-loop load of POSTs whose body varies per request (`__N__`)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from urllib.parse import urlsplit

WRK_SCRIPT = """
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body_template, "__N__", tostring(counter))
  return wrk.format(nil, nil, nil, body)
end
wrk.body_template = [[{body}]]
"""


def run_wrk(
    url: str,
    body: str,
    headers: dict[str, str],
    seconds: int,
    connections: int = 16,
    vary: bool = True,
) -> dict[str, float]:
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script = WRK_SCRIPT.format(headers=header_lines, body=body)
    if not vary:
        script = script.replace(
            'string.gsub(wrk.body_template, "__N__", tostring(counter))', "wrk.body_template"
        )
    return _wrk(script, url, seconds, connections)


def run_wrk_requests(
    url: str, requests: list[tuple[str, dict[str, str]]], seconds: int, connections: int = 16
) -> dict[str, float]:
    """wrk over a list of prepared (body, headers) POSTs, cycled without the two wrk threads
    sending the same one: for bodies wrk cannot make itself (a signature per body)."""

    def long_string(text: str) -> str:
        level = 1
        while f"]{'=' * level}]" in text:
            level += 1
        return f"[{'=' * level}[{text}]{'=' * level}]"

    # wrk.format with a headers table of its own does not add the Host header that wrk puts
    # on its other requests; HTTP/1.1 requires it (uvicorn's h11 answers 400 without it,
    # gunicorn let it pass), so each request carries it.
    host = urlsplit(url).netloc
    lines = ["local reqs = {}"]
    for index, (body, request_headers) in enumerate(requests, start=1):
        headers = {"Host": host, **request_headers}
        fields = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
        lines.append(f'reqs[{index}] = wrk.format("POST", nil, {{{fields}}}, {long_string(body)})')
    lines.append(
        """
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  return reqs[((n * 2 + id) % #reqs) + 1]
end
"""
    )
    return _wrk("\n".join(lines), url, seconds, connections)


def _wrk(script: str, url: str, seconds: int, connections: int) -> dict[str, float]:
    """Run wrk with a Lua script: 2xx req/s, non-2xx responses and p99 (ms) from its report."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    out = subprocess.run(
        [*argv, "-s", handle.name, url], capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float("nan")
    if p99:
        value, unit = float(p99.group(1)), p99.group(2)
        p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    failed = float(non2xx.group(1)) if non2xx else 0.0
    total = re.search(r"(\d+) requests in", out)
    answered = float(total.group(1)) if total else 0.0
    # a refused request is not throughput: "rps" counts only 2xx answers (wrk's own figure,
    # which counts every answer, is "all_rps")
    ok = rps * (answered - failed) / answered if answered else 0.0
    return {"rps": ok, "all_rps": rps, "non2xx": failed, "p99_ms": p99_ms}
