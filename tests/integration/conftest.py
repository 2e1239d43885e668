"""Real processes on loopback ports, a real SMTP server: the system as `make run` starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.processes import grant_consent_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MailBox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"

    def wait_for(self, count: int, seconds: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.1)
        raise AssertionError(f"{len(self.messages)} of {count} messages arrived")


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailBox, int]]:
    box = MailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def system_database(db_backend: str, tmp_path: Path) -> AsyncIterator[str | None]:
    """None on SQLite (files under the data dir); a database of its own on PostgreSQL."""
    if db_backend == "sqlite":
        yield None
        return
    name = f"lingkar_it_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class RunningSystem:
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]
    api_database_url: str

    async def grant_consent(self, session_id: str, student_id: str) -> None:
        """A student's consent in the running api's database, through the domain service."""
        await grant_consent_in(self.api_database_url, session_id, student_id)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def system(
    tmp_path: Path, smtp_server: tuple[MailBox, int], system_database: str | None
) -> Iterator[RunningSystem]:
    """`scripts/run.py` (what `make run` runs) with its own ports, data dir and SMTP server."""
    ports = {"api": free_port(), "meetings": free_port(), "notifications": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGKAR_")}
    env.update(
        {
            "LINGKAR_ENV": "dev",
            "LINGKAR_DATA_DIR": str(tmp_path / "var"),
            "LINGKAR_API_PORT": str(ports["api"]),
            "LINGKAR_MEETINGS_PORT": str(ports["meetings"]),
            "LINGKAR_NOTIFICATIONS_PORT": str(ports["notifications"]),
            "LINGKAR_SMTP_HOST": "127.0.0.1",
            "LINGKAR_SMTP_PORT": str(smtp_server[1]),
            "LINGKAR_SMTP_SECURITY": "none",
            "LINGKAR_OUTBOX_POLL_SECONDS": "0.2",
            "LINGKAR_WORKER_POLL_SECONDS": "0.2",
        }
    )
    if system_database:
        env["LINGKAR_DATABASE_URL"] = system_database
    log = tmp_path / "system.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = RunningSystem(
        process=process,
        log=log,
        ports=ports,
        api_database_url=system_database or f"sqlite+aiosqlite:///{tmp_path / 'var' / 'api.db'}",
    )
    deadline = time.monotonic() + 60
    while "Lingkar is running" not in running.output():
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            raise AssertionError("the system did not come up:\n" + running.output()[-4000:])
        time.sleep(0.2)
    try:
        yield running
    finally:
        if process.poll() is None:
            running.stop()
