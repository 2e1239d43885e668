"""The load generator: wrk (C, one thread), with a Lua script for headers, bodies and paths.

wrk's own latency histogram gives the percentiles; the script's `done` prints them as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_MARK = "WRKJSON "

_SCRIPT = """
local paths = {%(paths)s}
local method = %(method)s
local body = %(body)s
%(headers)s
local i = 0
request = function()
  i = i + 1
  return wrk.format(method, paths[(i %% #paths) + 1], nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"non_2xx":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p95_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean))
end
"""


@dataclass(frozen=True)
class Load:
    """What one wrk run sends: a method, paths taken in turn, headers, an optional JSON body."""

    paths: tuple[str, ...]
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    # CPU per request, when the caller measured it (`bench.run.measure`): the loaded process's,
    # and PostgreSQL's (every postgres process of the machine).
    cpu_ms: float | None = None
    db_cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def script(load: Load) -> str:
    headers = "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in load.headers
    )
    return _SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in load.paths),
        "method": _lua_string(load.method),
        "body": _lua_string(load.body) if load.body is not None else "nil",
        "headers": headers,
        "mark": _MARK,
    }


def parse(output: str) -> Measured:
    line = next((x for x in output.splitlines() if x.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    data = json.loads(line[len(_MARK) :])
    return Measured(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["non_2xx"] + data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: apt-get install -y wrk (make bench does it as root)"
        )
    return path


def run(url: str, load: Load, *, connections: int, seconds: float) -> Measured:
    """Load `url` (loopback only) for a bounded time and return what wrk measured."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the bench loads loopback only")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script(load))
    try:
        done = subprocess.run(
            [
                wrk_path(),
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        Path(f.name).unlink(missing_ok=True)
    return parse(done.stdout + done.stderr)
