"""Plain helpers for the notifications tests (fixtures are in conftest.py)."""

from __future__ import annotations

import email
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery
from shared.timeutil import utcnow

Accept = Callable[[dict[str, Any]], Awaitable[httpx.Response]]


def host_data(**overrides: Any) -> dict[str, Any]:
    """The data of a `meeting_provisioned_host` notification, as the api service sends it."""
    return {
        "session_title": "Mengelola stres menjelang ujian",
        "scheduled_start": "2026-12-01T01:00:00+00:00",
        "duration_minutes": 60,
        "provider": "jitsi",
        "host_url": "https://jitsi.example.sch.id/LingkarABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "passcode": None,
        "cleared_members": [],
        **overrides,
    }


def recipient(**overrides: Any) -> dict[str, Any]:
    person = uuid.uuid4()
    return {
        "person_id": str(person),
        "name": "Bu Rina",
        "email": f"counselor-{person.hex[:10]}@sekolah.example",
        "locale": "id",
        "timezone": "Asia/Jakarta",
        **overrides,
    }


def notification_body(
    recipients: list[dict[str, Any]] | None = None, **overrides: Any
) -> dict[str, Any]:
    return {
        "idempotency_key": f"meeting-provisioned-host:{uuid.uuid4()}",
        "school_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "event": "meeting_provisioned_host",
        "recipients": recipients if recipients is not None else [recipient()],
        "data": host_data(),
        **overrides,
    }


async def accepted(accept: Accept, body: dict[str, Any]) -> str:
    """POST the request, check it was accepted, and give the notification's id."""
    answer = await accept(body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def reload(app: FastAPI, delivery_id: uuid.UUID) -> Delivery:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        delivery = await db.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery


async def make_due(app: FastAPI, delivery_id: uuid.UUID) -> None:
    """As if the delivery's wait had passed: due now (a controllable clock for retries)."""
    async with AsyncSession(app.state.engine) as db:
        await db.exec(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(cast(EmailMessage, part).get_content())


async def deliveries_of(app: FastAPI, notification_id: str | uuid.UUID) -> list[Delivery]:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        rows = await db.exec(
            select(Delivery).where(Delivery.notification_id == uuid.UUID(str(notification_id)))
        )
        return list(rows.all())


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """An aiosmtpd handler that keeps every envelope it receives.

    No properties here: aiosmtpd runs `inspect.getmembers` on its handler for every connection.
    """

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on loopback; it may be started later than its port is chosen."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def envelopes(self) -> list[Envelope]:
        with self.inbox.lock:
            return list(self.inbox.envelopes)

    @property
    def messages(self) -> list[EmailMessage]:
        """What arrived, parsed with the email package."""
        return [
            cast(
                EmailMessage,
                email.message_from_bytes(cast(bytes, e.content), policy=default_policy),
            )
            for e in self.envelopes
        ]


class Clock:
    """The worker's clock in a test: it says what time it is until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, when: datetime) -> None:
        self.now = when


def invite_of(message: EmailMessage) -> tuple[Calendar, CalendarEvent]:
    """The calendar invite of an email, parsed with the icalendar package; its one event.

    It must be both the `text/calendar` alternative (with its method on the part) and the
    invite.ics attachment, and the two must say the same.
    """
    parts = {part.get_content_type(): part for part in message.walk()}
    inline = cast(EmailMessage, parts["text/calendar"])
    attached = cast(EmailMessage, parts["application/ics"])
    assert attached.get_filename() == "invite.ics"
    text = str(inline.get_content())
    assert text.startswith("BEGIN:VCALENDAR\r\n")  # the CRLF line ends iCalendar requires
    assert cast(bytes, attached.get_content()).decode() == text
    calendar = Calendar.from_ical(text)
    assert inline.get_param("method") == calendar["METHOD"]
    [event] = calendar.walk("VEVENT")
    return calendar, cast(CalendarEvent, event)


def has_invite(message: EmailMessage) -> bool:
    return any(part.get_content_type() == "text/calendar" for part in message.walk())


async def died_after_sending(app: FastAPI, delivery_id: uuid.UUID) -> None:
    """Leave the row as a worker that died after sending, before recording it, leaves it:
    still pending, its lease run out."""
    async with AsyncSession(app.state.engine) as db:
        await db.exec(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id)
            .values(
                status="pending",
                attempts=0,
                sent_at=None,
                locked_by="dead-worker",
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
        await db.commit()
