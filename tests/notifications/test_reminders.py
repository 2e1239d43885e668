"""Reminders go out at their time, in the reader's zone, and never once called off: the worker
reads the time from a clock the test moves, so nothing here sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Notification
from services.notifications.worker import Worker
from shared.timeutil import utcnow
from tests.factories import SchoolKit, bearer
from tests.notifications.support import (
    Accept,
    Clock,
    SmtpServer,
    deliveries_of,
    has_invite,
    notification_body,
    recipient,
)
from tests.notifications.test_email_delivery import text_of

pytestmark = pytest.mark.usefixtures("quiet_queue")

JOIN_URL = "https://api.sekolah.example/j/UmVtaW5kZXJMaW5rVG9rZW4"
Cancel = Accept


class Session:
    """One session's ids and start, and the reminders the api would schedule for it."""

    def __init__(self, start: datetime) -> None:
        self.id, self.school_id, self.start = str(uuid.uuid4()), str(uuid.uuid4()), start

    def reminder(
        self, people: list[dict[str, Any]], kind: str, *, sequence: int = 0, **data: Any
    ) -> dict[str, Any]:
        ahead = {"24h": timedelta(hours=24), "15m": timedelta(minutes=15)}[kind]
        return notification_body(
            people,
            idempotency_key=f"reminder:{self.id}:{sequence}:{uuid.uuid4().hex}:{kind}",
            school_id=self.school_id,
            session_id=self.id,
            event="session_reminder",
            deliver_after=(self.start - ahead).isoformat(),
            data={
                "session_title": "Mengelola stres menjelang ujian",
                "scheduled_start": self.start.isoformat(),
                "duration_minutes": 60,
                "provider": "jitsi",
                "join_url": JOIN_URL,
                "reminder": kind,
                "schedule_sequence": sequence,
                **data,
            },
        )

    def call_off(self, **overrides: Any) -> dict[str, Any]:
        return {
            "idempotency_key": f"call-off:{self.id}:{uuid.uuid4().hex}",
            "school_id": self.school_id,
            "session_id": self.id,
            "events": ["session_reminder"],
            **overrides,
        }


async def scheduled(accept: Accept, body: dict[str, Any]) -> str:
    answer = await accept(body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def statuses(app: FastAPI, notification_id: str) -> dict[str, str]:
    return {str(d.person_id): d.status for d in await deliveries_of(app, notification_id)}


async def cancelled_at(app: FastAPI, notification_id: str) -> datetime | None:
    async with AsyncSession(app.state.engine) as db:
        notification = await db.get(Notification, uuid.UUID(notification_id))
        assert notification is not None
        return notification.cancelled_at


@pytest.fixture
def session() -> Session:
    return Session(start=(utcnow() + timedelta(days=3)).replace(microsecond=0))


async def test_reminders_go_out_at_their_time_in_the_readers_zone_and_not_before(
    accept: Accept,
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    member = recipient(name="Siti", locale="id", timezone="Asia/Makassar")
    papuan = recipient(name="Yosef", locale="en", timezone="Asia/Jayapura")
    await scheduled(accept, session.reminder([member, papuan], "24h"))
    await scheduled(accept, session.reminder([member, papuan], "15m"))
    clock = Clock(utcnow())
    worker = make_worker(smtp_server.port, clock=clock)

    assert await worker.run_once() == 0
    clock.move_to(session.start - timedelta(hours=24, seconds=1))
    assert await worker.run_once() == 0
    clock.move_to(session.start - timedelta(hours=24))
    assert await worker.run_once() == 2
    clock.move_to(session.start - timedelta(minutes=16))
    assert await worker.run_once() == 0
    clock.move_to(session.start - timedelta(minutes=15))
    assert await worker.run_once() == 2

    siti = [m for m in smtp_server.messages if member["email"] in m["To"]]
    assert [m["Subject"] for m in siti] == [
        "Pengingat: Mengelola stres menjelang ujian dimulai dalam 24 jam",
        "Pengingat: Mengelola stres menjelang ujian dimulai dalam 15 menit",
    ]
    wita = session.start.astimezone(ZoneInfo("Asia/Makassar"))
    assert f"{wita:%H.%M} WITA" in text_of(siti[1])
    assert JOIN_URL in text_of(siti[1])
    assert not any(has_invite(m) for m in smtp_server.messages)
    yosef = [m for m in smtp_server.messages if papuan["email"] in m["To"]]
    assert yosef[1]["Subject"] == "Reminder: Mengelola stres menjelang ujian starts in 15 minutes"
    assert " WIT" in text_of(yosef[1]) and "WITA" not in text_of(yosef[1])


async def test_called_off_reminders_are_not_sent_and_a_repeat_calls_off_nothing_new(
    accept: Accept,
    cancel: Cancel,
    apps: dict[str, FastAPI],
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    app = apps["notifications"]
    people = [recipient(), recipient()]
    first = await scheduled(accept, session.reminder(people, "24h"))
    second = await scheduled(accept, session.reminder(people, "15m"))
    body = session.call_off(events=["session_reminder", "follow_up_due"])

    answer = await cancel(body)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"notifications": 2, "deliveries": 4}
    for notification in (first, second):
        assert set((await statuses(app, notification)).values()) == {"cancelled"}
        assert await cancelled_at(app, notification) is not None
    later = await scheduled(accept, session.reminder(people[:1], "15m", sequence=1))
    again = await cancel(body)  # the api's relay sending it again after a lost answer
    assert again.json() == {"notifications": 2, "deliveries": 4}
    assert set((await statuses(app, later)).values()) == {"pending"}

    clock = Clock(session.start)
    assert await make_worker(smtp_server.port, clock=clock).run_once() == 1
    [message] = smtp_server.messages
    assert people[0]["email"] in message["To"]


async def test_the_same_call_off_several_times_at_once_answers_one_result(
    accept: Accept, cancel: Cancel, session: Session
) -> None:
    """A retry racing its original used to fail on the cancellation's unique key (a 500)."""
    people = [recipient(), recipient()]
    await scheduled(accept, session.reminder(people, "24h"))
    body = session.call_off(events=["session_reminder"])

    answers = await asyncio.gather(*(cancel(body) for _ in range(5)))

    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert [a.json() for a in answers] == [{"notifications": 1, "deliveries": 2}] * 5


async def test_calling_off_below_a_sequence_spares_the_new_times_reminders(
    accept: Accept,
    cancel: Cancel,
    apps: dict[str, FastAPI],
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    person = recipient()
    old = await scheduled(accept, session.reminder([person], "15m", sequence=0))
    new = await scheduled(accept, session.reminder([person], "15m", sequence=1))

    answer = await cancel(session.call_off(below_sequence=1))

    assert answer.json() == {"notifications": 1, "deliveries": 1}
    assert set((await statuses(apps["notifications"], old)).values()) == {"cancelled"}
    assert set((await statuses(apps["notifications"], new)).values()) == {"pending"}
    assert await make_worker(smtp_server.port, clock=Clock(session.start)).run_once() == 1


async def test_calling_off_one_persons_reminders_leaves_the_others(
    accept: Accept,
    cancel: Cancel,
    apps: dict[str, FastAPI],
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    app = apps["notifications"]
    withdrawn, staying = recipient(), recipient()
    both = await scheduled(accept, session.reminder([withdrawn, staying], "24h"))

    answer = await cancel(session.call_off(person_ids=[withdrawn["person_id"]]))

    assert answer.json() == {"notifications": 1, "deliveries": 1}
    assert await statuses(app, both) == {
        withdrawn["person_id"]: "cancelled",
        staying["person_id"]: "pending",
    }
    assert await cancelled_at(app, both) is None  # still to be sent to someone
    assert await make_worker(smtp_server.port, clock=Clock(session.start)).run_once() == 1
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [staying["email"]]


async def test_a_reminder_called_off_after_it_was_claimed_is_not_sent(
    accept: Accept,
    cancel: Cancel,
    apps: dict[str, FastAPI],
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    notification = await scheduled(accept, session.reminder([recipient()], "15m"))
    worker = make_worker(smtp_server.port, clock=Clock(session.start))
    [claimed] = await worker.claim()

    assert (await cancel(session.call_off())).json()["deliveries"] == 1
    await worker.deliver(claimed)

    assert smtp_server.envelopes == []
    assert set((await statuses(apps["notifications"], notification)).values()) == {"cancelled"}


async def test_a_reminder_of_an_old_time_is_not_sent_even_before_its_calling_off_arrives(
    accept: Accept,
    apps: dict[str, FastAPI],
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    person = recipient()
    stale = await scheduled(accept, session.reminder([person], "15m", sequence=0))
    moved = session.reminder([person], "15m", sequence=1)
    moved.update(idempotency_key=f"rescheduled:{uuid.uuid4()}", event="session_rescheduled")
    moved.pop("deliver_after")
    await scheduled(accept, moved)

    assert await make_worker(smtp_server.port, clock=Clock(session.start)).run_once() == 2

    [message] = smtp_server.messages
    assert message["Subject"].startswith("Jadwal baru")
    assert set((await statuses(apps["notifications"], stale)).values()) == {"cancelled"}
    assert await cancelled_at(apps["notifications"], stale) is not None


async def test_another_schools_calling_off_touches_nothing(
    accept: Accept, cancel: Cancel, apps: dict[str, FastAPI], session: Session
) -> None:
    notification = await scheduled(accept, session.reminder([recipient()], "24h"))

    answer = await cancel(session.call_off(school_id=str(uuid.uuid4())))

    assert answer.json() == {"notifications": 0, "deliveries": 0}
    assert set((await statuses(apps["notifications"], notification)).values()) == {"pending"}


async def test_a_calling_off_without_events_is_422_naming_the_field(
    cancel: Cancel, session: Session
) -> None:
    answer = await cancel(session.call_off(events=[]))

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["events"]


async def test_a_calling_off_key_reused_for_another_session_is_a_409_conflict(
    cancel: Cancel, session: Session
) -> None:
    body = session.call_off()
    assert (await cancel(body)).status_code == 200

    answer = await cancel({**body, "session_id": str(uuid.uuid4())})

    assert answer.status_code == 409, answer.text


async def test_calling_off_needs_a_service_token_for_notifications(
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
    school: SchoolKit,
    session: Session,
) -> None:
    for auth in ({}, {"Authorization": f"Bearer {school.token}"}, bearer(service_token("api"))):
        answer = await notifications.post(
            "/internal/v1/notifications/cancel", json=session.call_off(), headers=auth
        )
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    public = await school.api.post(
        "/internal/v1/notifications/cancel",
        json=session.call_off(),
        headers=bearer(service_token("notifications")),
    )
    assert public.status_code == 404


async def test_the_changes_are_read_only_for_a_session_that_has_some(
    accept: Accept,
    session: Session,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The delivery's locked read says whether its session was ever rescheduled or cancelled;
    # only then does the worker read those changes (most sessions never move).
    read_for: list[str] = []
    later_time = Worker._later_time

    async def spy(self: Worker, db: AsyncSession, notification: Notification, **kw: Any) -> bool:
        read_for.append(notification.event)
        return await later_time(self, db, notification, **kw)

    monkeypatch.setattr(Worker, "_later_time", spy)
    person = recipient()
    await scheduled(accept, session.reminder([person], "24h"))
    worker = make_worker(smtp_server.port, clock=Clock(session.start))
    assert await worker.run_once() == 1
    assert read_for == []

    await scheduled(accept, session.reminder([person], "15m", sequence=0))
    moved = session.reminder([person], "15m", sequence=1)
    moved.update(idempotency_key=f"rescheduled:{uuid.uuid4()}", event="session_rescheduled")
    moved.pop("deliver_after")
    await scheduled(accept, moved)
    assert await worker.run_once() == 2
    assert sorted(read_for) == ["session_reminder", "session_rescheduled"]
    assert [m["Subject"][:11] for m in smtp_server.messages[1:]] == ["Jadwal baru"]
