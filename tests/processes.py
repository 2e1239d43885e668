"""Our services as real processes on loopback ports, for integration and fault tests."""

from __future__ import annotations

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
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
FACTORIES = {
    "api": "services.api.main:create_app",
    "meetings": "services.meetings.main:create_app",
    "notifications": "services.notifications.main:create_app",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(
    tmp: Path, ports: dict[str, int], smtp_port: int, database_url: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGKAR_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "LINGKAR_ENV": "dev",
            "LINGKAR_DATA_DIR": str(tmp / "var"),
            "LINGKAR_API_PORT": str(ports["api"]),
            "LINGKAR_MEETINGS_PORT": str(ports["meetings"]),
            "LINGKAR_NOTIFICATIONS_PORT": str(ports["notifications"]),
            "LINGKAR_SMTP_HOST": "127.0.0.1",
            "LINGKAR_SMTP_PORT": str(smtp_port),
            "LINGKAR_SMTP_SECURITY": "none",
            "LINGKAR_OUTBOX_POLL_SECONDS": "0.2",
            "LINGKAR_WORKER_POLL_SECONDS": "0.2",
            "LINGKAR_LOG_LEVEL": "INFO",
        }
    )
    if database_url:
        env["LINGKAR_DATABASE_URL"] = database_url
    return env


@dataclass
class Services:
    """Start, kill and restart each service on its own."""

    tmp: Path
    env: dict[str, str]
    ports: dict[str, int]
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str) -> None:
        """Start a service, or a notification worker: any name beginning with `worker`."""
        env = {**self.env, **self.overrides.get(service, {})}
        log = (self.tmp / f"{service}.log").open("ab")
        if service.startswith("worker"):
            command = [sys.executable, "-m", "services.notifications.worker"]
        else:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                FACTORIES[service],
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[service]),
                "--ws",
                "none",
                "--log-level",
                "warning",
            ]
        self.running[service] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if not service.startswith("worker"):
            self.wait_ready(service)

    def wait_ready(self, service: str, seconds: float = 40) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.running[service].poll() is not None:
                raise AssertionError(f"{service} exited:\n{self.log(service)[-3000:]}")
            try:
                with urllib.request.urlopen(self.url(service) + "/readyz", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{service} not ready:\n{self.log(service)[-3000:]}")

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        process = self.running.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for service in list(self.running):
            process = self.running.pop(service)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def log(self, service: str) -> str:
        path = self.tmp / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def database_url(self, service: str) -> str:
        return self.env.get("LINGKAR_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{self.tmp / 'var' / (service + '.db')}"
        )

    async def query(self, service: str, statement: Any) -> list[Any]:
        from shared.db import create_engine

        engine = create_engine(self.database_url(service), schema=service)
        try:
            async with AsyncSession(engine) as db:
                return list((await db.exec(statement)).all())
        finally:
            await engine.dispose()

    async def grant_consent(self, session_id: str, student_id: str) -> None:
        await grant_consent_in(self.database_url("api"), session_id, student_id)


async def grant_consent_in(api_database_url: str, session_id: str, student_id: str) -> None:
    """A student's consent, recorded in the api's database through the domain service
    (as the consent API will); the api's relay does the rest."""
    from services.api.consent import service as consent_service
    from services.api.consent.models import Consent
    from services.api.consent.texts import CURRENT_TEXT_VERSION, STUDENT_ITEMS
    from services.api.sessions import preparation
    from services.api.sessions.models import GuidanceSession
    from shared.db import create_engine

    engine = create_engine(api_database_url, schema="api")
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            session = await db.get(GuidanceSession, uuid.UUID(session_id))
            assert session is not None
            consent = await consent_service.record(
                db=db,
                consent=Consent(
                    school_id=session.school_id,
                    group_id=session.group_id,
                    session_id=session.id,
                    student_id=uuid.UUID(student_id),
                    signer="student",
                    signer_id=uuid.UUID(student_id),
                    signer_name="Siswa",
                    platform="jitsi",
                    text_version=CURRENT_TEXT_VERSION,
                    text_hash="0" * 64,
                    locale="id",
                    items=list(STUDENT_ITEMS),
                    decision="granted",
                    channel="test",
                ),
            )
            await preparation.consent_recorded(db=db, consent=consent)
            await db.commit()
    finally:
        await engine.dispose()
