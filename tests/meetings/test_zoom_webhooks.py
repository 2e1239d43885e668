"""Zoom's webhook calls (`POST /webhooks/zoom/{school_id}`) to the real meetings app: signed as
Zoom signs them, in Zoom's documented body shapes; attendance is read from the database."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.models import Meeting, MeetingStatus
from services.meetings.zoom_webhooks.models import Attendance
from shared.observability import JsonFormatter

SECRET_TOKEN = "zoom-webhook-secret-token-Hq83kLm2"
JOINED_AT = "2030-03-04T02:01:13Z"


@dataclass
class ZoomMeeting:
    school_id: uuid.UUID
    meeting_id: uuid.UUID
    provider_ref: str

    @property
    def path(self) -> str:
        return f"/webhooks/zoom/{self.school_id}"


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    formatter = JsonFormatter("meetings")
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records  # the requests were logged: there was something to look at
    assert not [r for r in records if SECRET_TOKEN in formatter.format(r)]


@pytest.fixture
def secrets_of_schools(apps: dict[str, FastAPI]) -> Iterator[dict[uuid.UUID, str]]:
    """The schools' webhook secret tokens, as the meetings app looks them up."""
    state = apps["meetings"].state
    held: dict[uuid.UUID, str] = {}
    original = getattr(state, "zoom_webhook_secret", None)

    async def lookup(school_id: uuid.UUID) -> str | None:
        return held.get(school_id)

    state.zoom_webhook_secret = lookup
    yield held
    state.zoom_webhook_secret = original


@pytest.fixture
async def zoom_meeting(
    apps: dict[str, FastAPI], secrets_of_schools: dict[uuid.UUID, str]
) -> ZoomMeeting:
    """A Lingkar meeting on Zoom, of a school whose Zoom app has a webhook secret token."""
    school_id = uuid.uuid4()
    secrets_of_schools[school_id] = SECRET_TOKEN
    return await create_zoom_meeting(apps["meetings"], school_id)


async def create_zoom_meeting(app: FastAPI, school_id: uuid.UUID) -> ZoomMeeting:
    meeting = Meeting(
        school_id=school_id,
        session_id=uuid.uuid4(),
        idempotency_key=f"key-{uuid.uuid4()}",
        request_hash="0" * 64,
        provider="zoom",
        status=MeetingStatus.ready,
        provider_ref=str(random.randrange(10**10, 10**11)),
        host_url="https://us06web.zoom.us/s/1?zak=x",
        scheduled_start=datetime(2030, 3, 4, 2, 0, tzinfo=UTC),
        duration_minutes=60,
    )
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        db.add(meeting)
        await db.commit()
    assert meeting.provider_ref is not None
    return ZoomMeeting(school_id, meeting.id, meeting.provider_ref)


def signed(body: bytes, *, secret: str = SECRET_TOKEN, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest.hexdigest()}",
        "content-type": "application/json",
    }


def participant_event(
    meeting: ZoomMeeting, event: str = "meeting.participant_joined", **participant: Any
) -> bytes:
    """A participant event as Zoom documents it (the meeting's id is a string here)."""
    person = {
        "user_id": "16778240",
        "user_name": "Siswa Contoh",
        "id": "",
        "participant_uuid": "2E2C5D9A-7B1E-4B8E-9C2D-0A1B2C3D4E5F",
        "email": "3f1c2b7e-0000-4000-8000-00000000abcd@members.lingkar.invalid",
        "registrant_id": "fdgsfh2ey82fuh",
        "participant_user_id": "",
        "customer_key": "",
        "phone_number": "",
        **participant,
    }
    if event == "meeting.participant_joined":
        person.setdefault("join_time", JOINED_AT)
    return json.dumps(
        {
            "event": event,
            "event_ts": 1899000073000,
            "payload": {
                "account_id": "AbC1dEfGhIjKlMn",
                "object": {
                    "id": meeting.provider_ref,
                    "uuid": "4444AAAiAAAAAiAiAiiAii==",
                    "host_id": "x1yCzABCDEfg23HiJKl4mN",
                    "topic": "Mengelola stres menjelang ujian",
                    "type": 2,
                    "start_time": "2030-03-04T02:00:00Z",
                    "timezone": "Asia/Jakarta",
                    "duration": 60,
                    "participant": person,
                },
            },
        }
    ).encode()


def meeting_event(meeting: ZoomMeeting, event: str, **times: str) -> bytes:
    zoom_object = {
        "id": meeting.provider_ref,
        "uuid": "4444AAAiAAAAAiAiAiiAii==",
        "host_id": "x1yCzABCDEfg23HiJKl4mN",
        "topic": "Mengelola stres menjelang ujian",
        "type": 2,
        "timezone": "Asia/Jakarta",
        "duration": 60,
        **times,
    }
    return json.dumps(
        {
            "event": event,
            "event_ts": 1899000000000,
            "payload": {"account_id": "AbC1dEfGhIjKlMn", "object": zoom_object},
        }
    ).encode()


async def attendance_of(app: FastAPI, meeting: ZoomMeeting) -> list[Attendance]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(Attendance)
            .where(Attendance.meeting_id == meeting.meeting_id)
            .order_by(col(Attendance.at))
        )
        return list(rows.all())


@pytest.fixture
async def client(meetings: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield meetings


async def test_a_signed_participant_joined_is_recorded_as_attendance(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = participant_event(zoom_meeting)

    response = await client.post(zoom_meeting.path, content=body, headers=signed(body))

    assert response.status_code == 200
    assert response.json() == {"status": "recorded"}
    [row] = await attendance_of(apps["meetings"], zoom_meeting)
    assert row.event == "meeting.participant_joined"
    assert row.user_name == "Siswa Contoh"
    assert row.registrant_id == "fdgsfh2ey82fuh"
    assert row.person_key == "3f1c2b7e-0000-4000-8000-00000000abcd"
    assert row.at.replace(tzinfo=UTC) == datetime(2030, 3, 4, 2, 1, 13, tzinfo=UTC)
    assert row.event_ts == 1899000073000


async def test_the_same_participant_joined_delivered_twice_makes_one_row(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = participant_event(zoom_meeting)

    first = await client.post(zoom_meeting.path, content=body, headers=signed(body))
    again = await client.post(zoom_meeting.path, content=body, headers=signed(body))

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert len(await attendance_of(apps["meetings"], zoom_meeting)) == 1


async def test_joining_and_leaving_are_two_rows_and_a_rejoin_a_third(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    bodies = [
        participant_event(zoom_meeting),
        participant_event(
            zoom_meeting, "meeting.participant_left", leave_time="2030-03-04T02:30:00Z"
        ),
        participant_event(zoom_meeting, join_time="2030-03-04T02:31:05Z"),
    ]
    for body in bodies:
        response = await client.post(zoom_meeting.path, content=body, headers=signed(body))
        assert response.json() == {"status": "recorded"}

    rows = await attendance_of(apps["meetings"], zoom_meeting)
    assert [r.event for r in rows] == [
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.participant_joined",
    ]


async def test_the_meeting_starting_and_ending_is_recorded(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    started = meeting_event(zoom_meeting, "meeting.started", start_time="2030-03-04T02:00:40Z")
    ended = meeting_event(
        zoom_meeting,
        "meeting.ended",
        start_time="2030-03-04T02:00:40Z",
        end_time="2030-03-04T03:02:00Z",
    )
    for body in (started, ended):
        response = await client.post(zoom_meeting.path, content=body, headers=signed(body))
        assert response.json() == {"status": "recorded"}

    rows = await attendance_of(apps["meetings"], zoom_meeting)
    assert [(r.event, r.at.replace(tzinfo=UTC).hour) for r in rows] == [
        ("meeting.started", 2),
        ("meeting.ended", 3),
    ]


async def test_a_wrong_signature_is_refused_and_nothing_recorded(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = participant_event(zoom_meeting)
    other_secret = await client.post(
        zoom_meeting.path, content=body, headers=signed(body, secret="not-the-school-secret")
    )
    # Signed, then changed on the way: the signature covers the raw bytes.
    changed = await client.post(
        zoom_meeting.path,
        content=body.replace(b"Siswa Contoh", b"Orang Lain!!"),
        headers=signed(body),
    )
    unsigned = await client.post(
        zoom_meeting.path, content=body, headers={"content-type": "application/json"}
    )

    for response in (other_secret, changed, unsigned):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert await attendance_of(apps["meetings"], zoom_meeting) == []


@pytest.mark.parametrize("offset", [-301, 301])
async def test_a_call_signed_more_than_five_minutes_from_now_is_refused(
    offset: int, apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = participant_event(zoom_meeting)

    response = await client.post(
        zoom_meeting.path, content=body, headers=signed(body, at=time.time() + offset)
    )

    assert response.status_code == 401
    assert "five minutes" in response.json()["detail"]
    assert await attendance_of(apps["meetings"], zoom_meeting) == []


async def test_the_url_validation_challenge_is_answered_with_the_encrypted_token(
    client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = json.dumps(
        {
            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            "event_ts": 1654503849680,
            "event": "endpoint.url_validation",
        }
    ).encode()

    response = await client.post(zoom_meeting.path, content=body, headers=signed(body))

    expected = hmac.new(
        SECRET_TOKEN.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256
    ).hexdigest()
    assert response.status_code == 200
    assert response.json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }


async def test_an_unknown_event_is_acknowledged_and_ignored(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = meeting_event(zoom_meeting, "meeting.sharing_started")

    response = await client.post(zoom_meeting.path, content=body, headers=signed(body))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await attendance_of(apps["meetings"], zoom_meeting) == []


async def test_events_of_meetings_lingkar_did_not_make_for_the_school_are_not_kept(
    apps: dict[str, FastAPI],
    client: httpx.AsyncClient,
    zoom_meeting: ZoomMeeting,
    secrets_of_schools: dict[uuid.UUID, str],
) -> None:
    # The counselor's own Zoom meetings, and another school's meeting, are nobody's business.
    not_ours = ZoomMeeting(zoom_meeting.school_id, uuid.uuid4(), "11122233344")
    other_school = await create_zoom_meeting(apps["meetings"], uuid.uuid4())
    secrets_of_schools[other_school.school_id] = "another-school-secret"

    for meeting in (not_ours, other_school):
        body = participant_event(meeting)
        response = await client.post(zoom_meeting.path, content=body, headers=signed(body))
        assert response.json() == {"status": "ignored"}
    assert await attendance_of(apps["meetings"], other_school) == []


async def test_a_school_without_a_zoom_webhook_is_not_found(
    client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = participant_event(zoom_meeting)

    unknown = await client.post(
        f"/webhooks/zoom/{uuid.uuid4()}", content=body, headers=signed(body)
    )
    not_an_id = await client.post("/webhooks/zoom/nope", content=body, headers=signed(body))

    assert unknown.status_code == 404
    assert not_an_id.status_code == 422


async def test_a_signed_body_that_is_not_a_zoom_event_is_refused_as_invalid(
    client: httpx.AsyncClient, zoom_meeting: ZoomMeeting
) -> None:
    body = b'{"not": "an event"}'

    response = await client.post(zoom_meeting.path, content=body, headers=signed(body))

    assert response.status_code == 422
