"""The system under test, started as production starts it, in a database of its own.

The migration step first (`python -m shared.migrate`, as the compose `migrate` service and the
Kubernetes Job run it), then one uvicorn process per service (no reload, no --workers),
PostgreSQL, log level INFO with the JSON access lines going to a file, `LINGKAR_ENV=test` only
so the dev secrets are accepted. The one outside service the scenarios reach, Zoom, is a fake
(bench/fake_zoom.py) on its own port.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVICES = ("api", "meetings", "notifications")
FACTORIES = {
    "api": "services.api.main:create_app",
    "meetings": "services.meetings.main:create_app",
    "notifications": "services.notifications.main:create_app",
    "ceiling": "bench.ceiling:create_app",
    "floor": "bench.floor:create_app",
    "zoom": "bench.fake_zoom:create_app",
}


def compile_sources(python: str = sys.executable) -> None:
    """Write the bytecode of our modules and of the packages `python` runs on, as the image's
    build does (pip compiles what it installs; infra/docker/Dockerfile runs compileall on ours).
    Without it every process started here would compile them all again at start: this machine
    sets PYTHONDONTWRITEBYTECODE, so nothing is cached. Files already current are skipped."""
    packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folders = [str(ROOT / name) for name in ("shared", "services", "bench")]
    done = subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", *folders, packages], check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"could not compile the modules under {folders} and {packages}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database() -> str:
    name = f"lingkar_bench_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"PostgreSQL is needed at 127.0.0.1:5432 (user postgres, trust auth): {exc}"
        ) from exc
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def uvicorn_command(factory: str, port: int, python: str = sys.executable) -> list[str]:
    """The same server settings for every app measured, the ceiling included."""
    return [
        python,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # As deployed: no service speaks WebSocket, so uvicorn loads no WebSocket library.
        "--ws",
        "none",
    ]


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU used so far by every PostgreSQL process on the machine: the server's backends serve
    our services, but on a shared machine other clients' work counts here too."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().startswith("postgres"):
                total += cpu_seconds(int(entry.name))
        except OSError:  # it ended while we looked
            continue
    return total


@dataclass
class Stack:
    database: str
    logs: Path
    smtp_port: int
    # The Python every process of the system runs on. `make bench` gives one whose packages
    # are requirements.lock alone, as the image's are: the dev tools' extras change what the
    # libraries import (httpx loads rich, click and pygments when they are installed).
    python: str = sys.executable
    ports: dict[str, int] = field(default_factory=dict)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.database}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINGKAR_")}
        for name in ("api", "meetings", "notifications", "ceiling", "floor", "zoom"):
            self.ports.setdefault(name, free_port())
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                # Production in all but the secrets: test mode accepts the dev placeholders.
                "LINGKAR_ENV": "test",
                "LINGKAR_LOG_LEVEL": "INFO",
                "LINGKAR_DATA_DIR": str(self.logs / "var"),
                "LINGKAR_DATABASE_URL": self.database_url,
                "LINGKAR_API_PORT": str(self.ports["api"]),
                "LINGKAR_MEETINGS_PORT": str(self.ports["meetings"]),
                "LINGKAR_NOTIFICATIONS_PORT": str(self.ports["notifications"]),
                "LINGKAR_PUBLIC_URL": f"http://127.0.0.1:{self.ports['api']}",
                "LINGKAR_MEETINGS_PUBLIC_URL": f"http://127.0.0.1:{self.ports['meetings']}",
                "LINGKAR_SMTP_HOST": "127.0.0.1",
                "LINGKAR_SMTP_PORT": str(self.smtp_port),
                "LINGKAR_SMTP_SECURITY": "none",
                # Zoom is the fake in bench/fake_zoom.py, answering in 20 ms.
                "LINGKAR_ZOOM_OAUTH_URL": self.url("zoom"),
                "LINGKAR_ZOOM_API_URL": self.url("zoom") + "/v2",
            }
        )
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def migrate(self) -> float:
        """Run the deployment's migration step; seconds it took."""
        started = time.monotonic()
        with (self.logs / "migrate.log").open("ab") as log:
            done = subprocess.run(
                [self.python, "-m", "shared.migrate"],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise SystemExit(f"migrations failed; see {self.logs / 'migrate.log'}")
        return time.monotonic() - started

    def start(self, name: str) -> float:
        """Start a service (or a worker: `worker-1`, ...); seconds until it answers /readyz."""
        env = self.env()
        log = (self.logs / f"{name}.log").open("ab")
        started = time.monotonic()
        if name.startswith("worker"):
            command = [self.python, "-m", "services.notifications.worker"]
        else:
            command = uvicorn_command(FACTORIES[name], self.ports[name], self.python)
        self.running[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if name.startswith("worker"):
            return 0.0
        self._wait_ready(name)
        return time.monotonic() - started

    def _wait_ready(self, name: str, seconds: float = 60) -> None:
        path = "/" if name in ("ceiling", "floor", "zoom") else "/readyz"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise SystemExit(f"{name} exited; see {self.logs / (name + '.log')}")
            try:
                with urllib.request.urlopen(self.url(name) + path, timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.02)
        raise SystemExit(f"{name} not ready after {seconds}s; see {self.logs / (name + '.log')}")

    def rss_mb(self, name: str) -> tuple[float, float]:
        """(current, peak) resident memory of a running process, in MB."""
        status = Path(f"/proc/{self.running[name].pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        kb = {k: int(v.split()[0]) for k, v in fields.items() if k in ("VmRSS", "VmHWM")}
        return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)
