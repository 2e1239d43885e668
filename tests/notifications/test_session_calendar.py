"""Over the api, the whole way to a real SMTP server: a session's invites and reminders follow
its reschedule, its cancel and a member's withdrawal. The worker's clock is moved, never slept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery, Notification
from services.notifications.worker import Worker
from shared.timeutil import utcnow
from tests.api.test_gate import ADULT, adult_session, ready_to_provision
from tests.api.test_provisioning_races import settle
from tests.factories import SchoolKit, eventually, grant_consent, notifications_about
from tests.notifications.support import Clock, SmtpServer, has_invite, invite_of
from tests.notifications.test_delivery_record import RefusingInbox
from tests.notifications.test_email_delivery import html_of, text_of

pytestmark = pytest.mark.usefixtures("quiet_queue")


async def provisioned_session(
    school: SchoolKit, apps: dict[str, FastAPI], *, starts_in: timedelta, members: int = 2
) -> dict[str, Any]:
    """A session whose members (with email, the last in English in Papua) all consented and
    whose meeting is made: links issued, reminders scheduled."""
    students = [
        await school.user(
            "student",
            birth_date=ADULT,
            email=f"student-{n}-{datetime.now(UTC).timestamp()}@sekolah.example",
            **({"locale": "en", "timezone": "Asia/Jayapura"} if n == members - 1 else {}),
        )
        for n in range(members)
    ]
    start = (utcnow() + starts_in).replace(microsecond=0)
    session = await adult_session(school, students=students, scheduled_start=start.isoformat())
    for student in students:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await ready_to_provision(school, session)

    async def meeting() -> Any:
        return (await school.get(f"/v1/sessions/{session['id']}"))["meeting"]

    await eventually(meeting)
    await settle(apps)
    session["meeting"] = await school.get(f"/v1/sessions/{session['id']}/meeting")
    session["start"] = start
    return session


def mail_to(smtp: SmtpServer, person: dict[str, Any]) -> list[EmailMessage]:
    return [m for m in smtp.messages if person["email"] in m["To"]]


def everything_in(message: EmailMessage) -> str:
    """What the reader can see: text, HTML and the invite, decoded."""
    invite = invite_of(message)[0].to_ical().decode() if has_invite(message) else ""
    return text_of(message) + html_of(message) + invite


async def drain(worker: Worker) -> int:
    total = 0
    while sent := await worker.run_once():
        total += sent
    return total


def reminders_in(smtp: SmtpServer, since: int) -> list[tuple[str, str]]:
    """(recipient, subject) of the reminders that arrived after the first `since` messages."""
    return sorted(
        (m["To"], m["Subject"])
        for m in smtp.messages[since:]
        if m["Subject"].startswith(("Pengingat", "Reminder"))
    )


async def fire_at(worker: Worker, clock: Clock, when: datetime, smtp: SmtpServer) -> list[Any]:
    """Move the clock to `when`, let the worker run; the reminders that went out."""
    before = len(smtp.messages)
    clock.move_to(when)
    await drain(worker)
    return reminders_in(smtp, before)


async def test_a_reschedule_sends_a_request_with_a_higher_sequence_and_moves_the_reminders(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2))
    sid, old_start = session["id"], session["start"]
    new_start = old_start + timedelta(days=1)
    host_url = session["meeting"]["host_url"]
    assert "/h/" in host_url  # the host gate, never shown to a member
    moved = await school.api.patch(
        f"/v1/sessions/{sid}", headers=school.auth, json={"scheduled_start": new_start.isoformat()}
    )
    assert moved.status_code == 200, moved.text
    await settle(apps)
    clock = Clock(utcnow())
    worker = make_worker(smtp_server.port, clock=clock)

    assert await drain(worker) == 6  # links and new times, to the counselor and two members

    for member in session["group"]["students"]:
        invites = [invite_of(m) for m in mail_to(smtp_server, member)]
        assert [(c["METHOD"], e.decoded("SEQUENCE")) for c, e in invites] == [
            ("REQUEST", 0),
            ("REQUEST", 1),
        ]
        assert invites[0][1]["UID"] == invites[1][1]["UID"]
        assert invites[0][1].decoded("DTSTART") == old_start
        assert invites[1][1].decoded("DTSTART") == new_start
        assert "/j/" in str(invites[1][1]["URL"])
        assert all(host_url not in everything_in(m) for m in mail_to(smtp_server, member))
    counselor = session["group"]["counselor"]
    [(_, first), (_, second)] = [invite_of(m) for m in mail_to(smtp_server, counselor)]
    assert first["URL"] == second["URL"] == host_url
    assert second.decoded("SEQUENCE") > first.decoded("SEQUENCE")

    assert await fire_at(worker, clock, old_start - timedelta(hours=24), smtp_server) == []
    assert await fire_at(worker, clock, old_start - timedelta(minutes=15), smtp_server) == []
    day_before = await fire_at(worker, clock, new_start - timedelta(hours=24), smtp_server)
    assert len(day_before) == 3
    assert sum("dalam 24 jam" in subject for _, subject in day_before) == 2
    assert sum("in 24 hours" in subject for _, subject in day_before) == 1  # the English reader
    soon = await fire_at(worker, clock, new_start - timedelta(minutes=15), smtp_server)
    assert len(soon) == 3
    english = session["group"]["students"][-1]
    [last] = mail_to(smtp_server, english)[-1:]
    assert "WIT" in text_of(last) and "/j/" in text_of(last) and host_url not in text_of(last)
    assert await fire_at(worker, clock, new_start + timedelta(days=1), smtp_server) == []


async def test_a_cancel_sends_a_cancel_invite_and_no_reminder_fires(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2))
    sid, start = session["id"], session["start"]
    await school.post(f"/v1/sessions/{sid}/cancel", {"reason": "Libur sekolah"}, expect=200)
    await settle(apps)
    clock = Clock(utcnow())
    worker = make_worker(smtp_server.port, clock=clock)

    assert await drain(worker) == 6  # links, then the cancel, to the counselor and two members

    for person in [session["group"]["counselor"], *session["group"]["students"]]:
        invites = [invite_of(m) for m in mail_to(smtp_server, person)]
        assert [c["METHOD"] for c, _ in invites] == ["REQUEST", "CANCEL"]
        (_, request), (_, cancel) = invites
        assert cancel["UID"] == request["UID"]
        assert cancel.decoded("SEQUENCE") > request.decoded("SEQUENCE")
        assert cancel["STATUS"] == "CANCELLED"
        assert cancel.decoded("DTSTART") == start
    for when in (start - timedelta(hours=24), start - timedelta(minutes=15)):
        assert await fire_at(worker, clock, when, smtp_server) == []
    reminders = [
        p
        for e, _, p in await notifications_about(apps["notifications"], sid)
        if e == "session_reminder"
    ]
    assert len(reminders) == 6  # they were scheduled, and called off


async def test_a_request_held_back_by_a_retry_never_arrives_after_the_cancel(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    smtp_down: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    # One member's mail server turns the first message (the link, a REQUEST) away for now; the
    # session is called off before its retry. The CANCEL reaches them first, so the REQUEST
    # must never follow it: it would put the called-off session back in their calendar.
    mail_server = RefusingInbox(set(), answer="451 4.3.0 try again later")
    smtp_down.inbox = mail_server
    smtp_down.start()
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2))
    held, other = session["group"]["students"]
    mail_server.refused.add(held["email"])
    clock = Clock(utcnow())
    worker = make_worker(smtp_down.port, clock=clock)
    await drain(worker)
    assert mail_to(smtp_down, held) == [] and len(mail_to(smtp_down, other)) == 1

    await school.post(f"/v1/sessions/{session['id']}/cancel", {"reason": "Libur"}, expect=200)
    await settle(apps)
    mail_server.refused.clear()
    await drain(worker)  # the cancel, to everyone; the held REQUEST's retry is not due yet
    clock.move_to(utcnow() + timedelta(hours=2))
    await drain(worker)  # now it is

    assert [invite_of(m)[0]["METHOD"] for m in mail_to(smtp_down, held)] == ["CANCEL"]
    assert [invite_of(m)[0]["METHOD"] for m in mail_to(smtp_down, other)] == ["REQUEST", "CANCEL"]
    async with AsyncSession(apps["notifications"].state.engine) as db:
        statuses = await db.exec(
            select(Delivery.status)
            .join(Notification, col(Notification.id) == col(Delivery.notification_id))
            .where(
                Notification.session_id == uuid.UUID(session["id"]),
                Notification.event == "meeting_provisioned_member",
                Delivery.person_id == uuid.UUID(held["id"]),
            )
        )
        assert statuses.all() == ["cancelled"]  # overtaken, on record, never sent


async def test_a_member_who_withdraws_gets_no_more_reminders(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2), members=3)
    sid, start = session["id"], session["start"]
    leaving, *staying = session["group"]["students"]
    token = await school.token_for(leaving["id"])
    answer = await school.api.post(
        f"/v1/sessions/{sid}/consents/{leaving['id']}/withdraw",
        json={"reason": "Berubah pikiran"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    await settle(apps)
    clock = Clock(utcnow())
    worker = make_worker(smtp_server.port, clock=clock)
    await drain(worker)

    for when in (start - timedelta(hours=24), start - timedelta(minutes=15)):
        fired = await fire_at(worker, clock, when, smtp_server)
        told = {to for to, _ in fired}
        assert len(told) == 3
        assert not any(leaving["email"] in to for to in told)
        assert all(any(s["email"] in to for to in told) for s in staying)


async def test_a_session_cleared_less_than_a_day_ahead_gets_only_the_15_minute_reminder(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(hours=3))
    clock = Clock(utcnow())
    worker = make_worker(smtp_server.port, clock=clock)
    assert await drain(worker) == 3  # the links

    fired = await fire_at(worker, clock, session["start"] - timedelta(minutes=15), smtp_server)

    assert len(fired) == 3
    assert all("15" in subject for _, subject in fired)
    sent = await notifications_about(apps["notifications"], session["id"])
    assert sorted(d["reminder"] for e, d, _ in sent if e == "session_reminder") == ["15m"] * 3
