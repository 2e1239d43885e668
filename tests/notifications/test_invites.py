"""Emails about a session's time carry a calendar invite that Gmail and Outlook show as one:
one entry per session and person, updated by a reschedule, removed by a cancel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI

from services.notifications.worker import Worker
from tests.notifications.support import (
    Accept,
    SmtpServer,
    deliveries_of,
    died_after_sending,
    has_invite,
    host_data,
    invite_of,
    notification_body,
    recipient,
)

pytestmark = pytest.mark.usefixtures("quiet_queue")

START = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
JOIN_URL = "https://api.sekolah.example/j/Q2xlYXJlZE1lbWJlckxpbmtUb2tlbg"
HOST_URL = "https://meetings.sekolah.example/h/SG9zdEdhdGVMaW5rVG9rZW4xMjM0"


def session_data(**overrides: Any) -> dict[str, Any]:
    """What the api sends about a session's time, organizer included."""
    return {
        "session_title": "Mengelola stres menjelang ujian",
        "scheduled_start": START.isoformat(),
        "duration_minutes": 90,
        "provider": "jitsi",
        "schedule_sequence": 0,
        "organizer_name": "Bu Rina",
        "organizer_email": "rina@sekolah.example",
        **overrides,
    }


async def tell(
    accept: Accept, event: str, people: list[dict[str, Any]], session_id: str, **data: Any
) -> str:
    body = notification_body(
        people,
        idempotency_key=f"{event}:{uuid.uuid4()}",
        event=event,
        session_id=session_id,
        data=session_data(**data),
    )
    answer = await accept(body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def mail_to(smtp: SmtpServer, person: dict[str, Any]) -> list[EmailMessage]:
    return [m for m in smtp.messages if person["email"] in m["To"]]


async def test_a_members_link_email_carries_a_request_invite_with_their_own_link(
    accept: Accept, smtp_server: SmtpServer, make_worker: Callable[..., Worker]
) -> None:
    member = recipient(name="Siti Aminah", timezone="Asia/Makassar")
    await tell(accept, "meeting_provisioned_member", [member], str(uuid.uuid4()), join_url=JOIN_URL)

    assert await make_worker(smtp_server.port).run_once() == 1

    [message] = smtp_server.messages
    assert message.get_content_type() == "multipart/mixed"
    [alternatives] = [p for p in message.iter_parts() if p.is_multipart()]
    assert [p.get_content_type() for p in alternatives.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar, event = invite_of(message)
    assert calendar["METHOD"] == "REQUEST"
    assert event["STATUS"] == "CONFIRMED"
    assert event.decoded("SEQUENCE") == 0
    assert event["DTSTART"].to_ical() == b"20261210T020000Z"  # UTC, with its Z
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(minutes=90)
    assert event["SUMMARY"] == "Mengelola stres menjelang ujian"
    assert event["URL"] == JOIN_URL
    assert JOIN_URL in str(event["DESCRIPTION"])
    assert "10 Desember 2026, 10.00 WITA" in str(event["DESCRIPTION"])
    organizer = event["ORGANIZER"]
    assert organizer == "mailto:rina@sekolah.example"
    assert organizer.params["CN"] == "Bu Rina"
    assert organizer.params["SENT-BY"] == "mailto:no-reply@lingkar.local"
    attendee = event["ATTENDEE"]  # one only: never the other members
    assert attendee == f"mailto:{member['email']}"
    assert attendee.params["CN"] == "Siti Aminah"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"


async def test_the_counselors_invite_carries_the_host_gate_link(
    accept: Accept, smtp_server: SmtpServer, make_worker: Callable[..., Worker]
) -> None:
    counselor = recipient(name="Bu Rina")
    await tell(
        accept,
        "meeting_provisioned_host",
        [counselor],
        str(uuid.uuid4()),
        **{**host_data(host_url=HOST_URL), "scheduled_start": START.isoformat()},
    )

    assert await make_worker(smtp_server.port).run_once() == 1

    [message] = smtp_server.messages
    calendar, event = invite_of(message)
    assert calendar["METHOD"] == "REQUEST"
    assert event["URL"] == HOST_URL
    assert HOST_URL in str(event["DESCRIPTION"])
    assert event["ATTENDEE"].params["ROLE"] == "CHAIR"


async def test_a_reschedule_updates_and_a_cancel_removes_the_same_entry_for_each_person(
    accept: Accept, smtp_server: SmtpServer, make_worker: Callable[..., Worker]
) -> None:
    first, second = recipient(name="Siti"), recipient(name="Budi")
    session_id = str(uuid.uuid4())
    moved_to = START + timedelta(days=2, hours=1)
    for person in (first, second):
        await tell(accept, "meeting_provisioned_member", [person], session_id, join_url=JOIN_URL)
    await tell(
        accept,
        "session_rescheduled",
        [first],
        session_id,
        join_url=JOIN_URL,
        scheduled_start=moved_to.isoformat(),
        schedule_sequence=1,
    )
    await tell(
        accept,
        "session_cancelled",
        [first, second],
        session_id,
        scheduled_start=moved_to.isoformat(),
        schedule_sequence=2,
        reason="Libur sekolah",
    )

    assert await make_worker(smtp_server.port).run_once() == 5

    invites = [invite_of(m) for m in mail_to(smtp_server, first)]
    assert [(c["METHOD"], e.decoded("SEQUENCE")) for c, e in invites] == [
        ("REQUEST", 0),
        ("REQUEST", 1),
        ("CANCEL", 2),
    ]
    assert len({e["UID"] for _, e in invites}) == 1
    _, moved = invites[1]
    assert moved.decoded("DTSTART") == moved_to
    assert moved.decoded("DTEND") == moved_to + timedelta(minutes=90)
    _, cancelled = invites[2]
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["ATTENDEE"] == f"mailto:{first['email']}"
    theirs = [invite_of(m)[1]["UID"] for m in mail_to(smtp_server, second)]
    assert len(set(theirs)) == 1
    assert theirs[0] != invites[0][1]["UID"]


async def test_the_same_person_in_another_session_gets_another_entry(
    accept: Accept, smtp_server: SmtpServer, make_worker: Callable[..., Worker]
) -> None:
    member = recipient()
    for session_id in (str(uuid.uuid4()), str(uuid.uuid4())):
        await tell(accept, "meeting_provisioned_member", [member], session_id, join_url=JOIN_URL)

    assert await make_worker(smtp_server.port).run_once() == 2

    uids = {invite_of(m)[1]["UID"] for m in smtp_server.messages}
    assert len(uids) == 2


async def test_a_message_sent_again_after_a_crash_carries_the_same_invite(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    app = apps["notifications"]
    notification = await tell(
        accept,
        "session_rescheduled",
        [recipient()],
        str(uuid.uuid4()),
        join_url=JOIN_URL,
        schedule_sequence=3,
    )
    assert await make_worker(smtp_server.port).run_once() == 1
    [delivery] = await deliveries_of(app, notification)
    await died_after_sending(app, delivery.id)

    assert await make_worker(smtp_server.port).run_once() == 1

    first, second = (invite_of(m) for m in smtp_server.messages)
    assert first[0].to_ical() == second[0].to_ical()
    assert second[1].decoded("SEQUENCE") == 3


async def test_a_consent_request_email_carries_no_invite(
    accept: Accept, smtp_server: SmtpServer, make_worker: Callable[..., Worker]
) -> None:
    await tell(
        accept,
        "consent_requested",
        [recipient()],
        str(uuid.uuid4()),
        consent_url="https://api.sekolah.example/v1/consent/abc",
        expires_at=START.isoformat(),
        signer="student",
    )

    assert await make_worker(smtp_server.port).run_once() == 1

    [message] = smtp_server.messages
    assert not has_invite(message)
    assert "https://api.sekolah.example/v1/consent/abc" in str(message)
