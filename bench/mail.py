"""The notifications scenario: emails accepted by the service, delivered by two workers to a
real SMTP server (aiosmtpd) on loopback that counts every message by its Message-ID."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.service_auth import ServiceTokens
from shared.settings import DEV_SERVICE_SECRET

_HEADERS = BytesHeaderParser()


@dataclass
class Inbox:
    """aiosmtpd's handler: every message's Message-ID and when it came."""

    received: Counter[str] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content or b""
        # The headers only: the server shares the machine's two cores with the workers it
        # measures, and parsing a bench message's MIME parts takes 0.22 ms, its headers 0.05.
        headers = _HEADERS.parsebytes(raw.encode() if isinstance(raw, str) else raw)
        message_id = str(headers.get("Message-ID"))
        now = time.monotonic()
        with self.lock:
            self.received[message_id] += 1
            self.first = self.first or now
            self.last = now
        return "250 OK"

    @property
    def total(self) -> int:
        return sum(self.received.values())


def smtp_server(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def _body(school_id: str) -> dict[str, Any]:
    person = uuid.uuid4()
    return {
        "idempotency_key": f"bench:{person}",
        "school_id": school_id,
        "session_id": str(uuid.uuid4()),
        "event": "meeting_provisioned_host",
        "recipients": [
            {"person_id": str(person), "name": "Bu Sari", "email": f"{person.hex}@bench.sch.id"}
        ],
        "data": {
            "session_title": "Mengelola stres menjelang ujian",
            "scheduled_start": "2026-12-01T01:00:00+00:00",
            "duration_minutes": 60,
            "provider": "jitsi",
            "host_url": "https://meet.jit.si/LingkarBench",
            "passcode": None,
            "cleared_members": [],
        },
    }


async def _accept(url: str, school_id: str, count: int) -> None:
    token = ServiceTokens(service="api", secret=DEV_SERVICE_SECRET, ttl_seconds=600).issue(
        "notifications"
    )
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:

        async def one() -> None:
            async with limit:
                answer = await client.post("/internal/v1/notifications", json=_body(school_id))
                if answer.status_code != 202:
                    raise SystemExit(f"notification refused: {answer.status_code} {answer.text}")

        await asyncio.gather(*(one() for _ in range(count)))


def accept(url: str, school_id: str, count: int) -> float:
    """Hand `count` emails to the notifications service; the seconds it took."""
    started = time.monotonic()
    asyncio.run(_accept(url, school_id, count))
    return time.monotonic() - started


def wait_delivered(inbox: Inbox, count: int, *, seconds: float) -> bool:
    """Whether `count` messages came within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and inbox.total < count:
        time.sleep(0.01)
    return inbox.total >= count
