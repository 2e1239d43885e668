"""Exactly one Zoom meeting per session, whatever dies between Zoom's answer and our commit.

Zoom has no idempotency key. The meetings service commits its intent before calling Zoom; a
later request that finds the intent still `creating` (the process died, or the create timed
out) looks the meeting up at Zoom (List meetings of the host, matched on the agenda tag and the
start time) before it creates one. The fake below keeps Zoom's state across calls and answers
in the documented shapes (create, get, list with `next_page_token` paging, delete).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings import service as meetings_service
from services.meetings.meetings.models import Meeting, MeetingStatus
from services.meetings.providers.zoom import RetryPolicy, agenda_tag
from shared.stages import Provider
from tests.meetings.test_provisioning import (
    assert_problem,
    consent,
    new_key,
    participant,
    provision_body,
)

ZOOM_API = "https://api.zoom.us/v2"
HOST = "bk@sekolah.sch.id"
PATH = "/internal/v1/meetings"


class FakeZoom:
    """One Zoom account as its API shows it: meetings made, listed a page at a time, deleted."""

    def __init__(self, mock: respx.MockRouter, *, page_size: int = 2) -> None:
        self.meetings: dict[int, dict[str, Any]] = {}
        self.page_size = page_size  # small, so a search has to follow next_page_token
        self.ids = itertools.count(85746065432)
        self.fail_next_create_after_making = False
        mock.post("https://zoom.us/oauth/token").respond(
            200, json={"access_token": "tok", "token_type": "bearer", "expires_in": 3600}
        )
        self.create = mock.post(f"{ZOOM_API}/users/{HOST}/meetings").mock(side_effect=self._create)
        self.list = mock.get(f"{ZOOM_API}/users/{HOST}/meetings").mock(side_effect=self._list)
        self.get = mock.get(url__regex=rf"{ZOOM_API}/meetings/\d+$").mock(side_effect=self._get)
        self.delete = mock.delete(url__regex=rf"{ZOOM_API}/meetings/\d+$").mock(
            side_effect=self._delete
        )

    def add_unrelated(self, count: int) -> None:
        """Other meetings of the same host, made outside Lingkar or for other sessions."""
        for n in range(count):
            meeting_id = next(self.ids)
            self.meetings[meeting_id] = self._meeting(
                meeting_id,
                {
                    "topic": f"Rapat guru {n}",
                    "start_time": "2030-01-01T01:00:00Z",
                    "agenda": agenda_tag(uuid.uuid4()) if n % 2 else "",
                    "duration": 30,
                },
            )

    def _meeting(self, meeting_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "uuid": f"u{meeting_id}==",
            "id": meeting_id,
            "host_id": "h1",
            "topic": body["topic"],
            "type": 2,
            "start_time": body["start_time"],
            "duration": body["duration"],
            "timezone": body.get("timezone", "Asia/Jakarta"),
            "agenda": body.get("agenda", ""),
            "created_at": "2026-11-22T01:00:00Z",
            "join_url": f"https://us02web.zoom.us/j/{meeting_id}",
            "start_url": f"https://us02web.zoom.us/s/{meeting_id}?zak=host-zak",
            "password": body.get("password", "Ab12Cd34Ef"),
        }

    def _create(self, request: httpx.Request) -> httpx.Response:
        meeting_id = next(self.ids)
        self.meetings[meeting_id] = self._meeting(meeting_id, json.loads(request.content))
        if self.fail_next_create_after_making:
            # Zoom made the meeting, but the answer never arrives: a time-out after sending.
            self.fail_next_create_after_making = False
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(201, json=self.meetings[meeting_id])

    def _list(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["type"] == "scheduled"
        listed = sorted(self.meetings)
        start = int(request.url.params.get("next_page_token") or 0)
        page = listed[start : start + self.page_size]
        more = start + self.page_size < len(listed)
        fields = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration")
        return httpx.Response(
            200,
            json={
                "page_size": self.page_size,
                "total_records": len(listed),
                "next_page_token": str(start + self.page_size) if more else "",
                # List meetings gives no start_url or password: `find` reads the meeting.
                "meetings": [
                    {
                        **{k: self.meetings[i][k] for k in fields},
                        "timezone": self.meetings[i]["timezone"],
                        "agenda": self.meetings[i]["agenda"],
                        "created_at": self.meetings[i]["created_at"],
                        "join_url": self.meetings[i]["join_url"],
                    }
                    for i in page
                ],
            },
        )

    def _get(self, request: httpx.Request) -> httpx.Response:
        meeting = self.meetings.get(int(request.url.path.rsplit("/", 1)[1]))
        if meeting is None:
            return httpx.Response(404, json={"code": 3001, "message": "Meeting does not exist"})
        return httpx.Response(200, json=meeting)

    def _delete(self, request: httpx.Request) -> httpx.Response:
        if self.meetings.pop(int(request.url.path.rsplit("/", 1)[1]), None) is None:
            return httpx.Response(404, json={"code": 3001, "message": "Meeting does not exist"})
        return httpx.Response(204)


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with respx.mock(assert_all_called=False) as mock:
        yield FakeZoom(mock)


@pytest.fixture
def zoom_body(
    meetings: httpx.AsyncClient, service_token: Callable[[str], str], apps: dict[str, FastAPI]
) -> Callable[..., Any]:
    """A Zoom provisioning request of a school whose Zoom account is configured."""

    async def make() -> dict[str, Any]:
        body = provision_body(participant(consent(platform=Provider.zoom)), provider=Provider.zoom)
        account = {
            # An account of its own: Zoom tokens are cached per account for the whole process.
            "account_id": f"acc-{uuid.uuid4().hex[:8]}",
            "client_id": "cid-1",
            "client_secret": "zoom-client-secret",
            "host_user": HOST,
        }
        answer = await meetings.post(
            f"/internal/v1/schools/{body['school_id']}/providers/zoom",
            json=account,
            headers={"Authorization": f"Bearer {service_token('meetings')}"},
        )
        assert answer.status_code == 200, answer.text
        apps["meetings"].state.providers.zoom_retry = RetryPolicy(retries=0)
        return body

    return make


@pytest.fixture
def post(meetings: httpx.AsyncClient, service_token: Callable[[str], str]) -> Callable[..., Any]:
    async def send(body: dict[str, Any], key: str, path: str = PATH) -> httpx.Response:
        headers = {"Authorization": f"Bearer {service_token('meetings')}", "Idempotency-Key": key}
        return await meetings.post(path, json=body, headers=headers)

    return send


async def meeting_rows(app: FastAPI, session_id: str) -> list[Meeting]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(select(Meeting).where(Meeting.session_id == uuid.UUID(session_id)))
        return list(rows.all())


async def time_passes(app: FastAPI, session_id: str) -> None:
    """The attempt under way is older than the attempt time: taken to be dead."""
    async with AsyncSession(app.state.engine) as db:
        for meeting in (
            await db.exec(select(Meeting).where(Meeting.session_id == uuid.UUID(session_id)))
        ).all():
            if meeting.attempt_started_at is not None:
                meeting.attempt_started_at = datetime.now(UTC) - timedelta(hours=1)
                db.add(meeting)
        await db.commit()


class Crash(BaseException):
    """The process dying: not an error the service handles, nothing after it runs."""


@pytest.fixture
def crash_after_zoom_answers(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    """The next provisioning of this body's session dies after Zoom made the meeting and
    before our commit. Only that session's: the api's relay may be delivering another test's
    provisioning meanwhile (a retry come due), and that one must not take the crash."""

    def arm(body: dict[str, Any]) -> None:
        real = meetings_service.participant_service.admit

        async def dies(**kwargs: Any) -> Any:
            if str(kwargs["meeting"].session_id) != body["session_id"]:
                return await real(**kwargs)
            monkeypatch.setattr(meetings_service.participant_service, "admit", real)
            raise Crash

        monkeypatch.setattr(meetings_service.participant_service, "admit", dies)

    return arm


async def test_a_crash_after_zoom_answered_then_a_retry_makes_no_second_meeting(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
    crash_after_zoom_answers: Callable[[dict[str, Any]], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body, key = await zoom_body(), new_key()
    zoom.add_unrelated(5)  # the search has to page past these
    crash_after_zoom_answers(body)

    with pytest.raises(Crash):
        await post(body, key)

    [intent] = await meeting_rows(apps["meetings"], body["session_id"])
    assert intent.status == MeetingStatus.creating  # on record before Zoom was called
    assert intent.provider_ref is None  # Zoom's answer never reached our database
    made_at_zoom = [
        m
        for m in zoom.meetings.values()
        if m["agenda"] == agenda_tag(uuid.UUID(body["session_id"]))
    ]
    assert len(made_at_zoom) == 1

    # While the attempt may still be under way, a retry waits for it a while, then is asked
    # to come back later.
    monkeypatch.setattr(apps["meetings"].state.settings, "provider_attempt_wait_seconds", 0.3)
    busy = assert_problem(await post(body, key), 503)
    assert busy["type"].endswith("meeting-being-made")
    assert zoom.create.call_count == 1

    await time_passes(apps["meetings"], body["session_id"])
    answer = await post(body, key)

    assert answer.status_code == 201, answer.text
    assert zoom.create.call_count == 1  # found, not made again
    assert zoom.list.call_count >= 2  # followed next_page_token to find it
    [meeting] = await meeting_rows(apps["meetings"], body["session_id"])
    assert meeting.status == MeetingStatus.ready
    assert meeting.provider_ref == str(made_at_zoom[0]["id"])
    assert meeting.passcode == made_at_zoom[0]["password"]
    assert len(answer.json()["join_links"]) == 1
    # The host's key is never stored or answered. (Not a bare "zak": a random join token
    # may hold those three letters; a start link's key always comes as "zak=".)
    assert "zak=" not in answer.text and "host-zak" not in answer.text


async def test_a_create_that_timed_out_after_zoom_made_it_is_found_on_the_retry(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
) -> None:
    body, key = await zoom_body(), new_key()
    zoom.fail_next_create_after_making = True

    uncertain = assert_problem(await post(body, key), 503)

    assert uncertain["type"].endswith("provider-call-uncertain")
    [intent] = await meeting_rows(apps["meetings"], body["session_id"])
    assert intent.status == MeetingStatus.creating
    assert intent.attempt_started_at is None  # ended: the retry need not wait
    answer = await post(body, key)
    assert answer.status_code == 201, answer.text
    assert zoom.create.call_count == 1
    assert len(zoom.meetings) == 1
    [meeting] = await meeting_rows(apps["meetings"], body["session_id"])
    assert meeting.provider_ref == str(next(iter(zoom.meetings)))


async def test_a_retry_that_finds_nothing_at_zoom_creates_the_meeting_once(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
    crash_after_zoom_answers: Callable[[dict[str, Any]], None],
) -> None:
    body, key = await zoom_body(), new_key()
    crash_after_zoom_answers(body)
    with pytest.raises(Crash):
        await post(body, key)
    zoom.meetings.clear()  # deleted at Zoom by hand meanwhile: nothing to find
    zoom.add_unrelated(3)
    await time_passes(apps["meetings"], body["session_id"])

    answer = await post(body, key)

    assert answer.status_code == 201, answer.text
    assert zoom.create.call_count == 2
    tag = agenda_tag(uuid.UUID(body["session_id"]))
    assert [m["agenda"] for m in zoom.meetings.values()].count(tag) == 1
    replay = await post(body, key)
    assert replay.status_code == 200
    assert zoom.create.call_count == 2


async def test_cancelling_after_a_crash_deletes_the_meeting_zoom_made(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
    crash_after_zoom_answers: Callable[[dict[str, Any]], None],
) -> None:
    body, key = await zoom_body(), new_key()
    crash_after_zoom_answers(body)
    with pytest.raises(Crash):
        await post(body, key)
    assert len(zoom.meetings) == 1
    await time_passes(apps["meetings"], body["session_id"])

    answer = await post(
        {"reason": "Dibatalkan", "provision_keys": [key]},
        new_key(),
        path=f"/internal/v1/sessions/{body['session_id']}/cancel",
    )

    assert answer.status_code == 200, answer.text
    assert zoom.meetings == {}  # found at Zoom and deleted there
    [meeting] = await meeting_rows(apps["meetings"], body["session_id"])
    assert meeting.status == MeetingStatus.cancelled
    late = await post(body, key)
    assert late.status_code == 409
    assert zoom.create.call_count == 1


async def test_a_zoom_refusal_on_the_first_try_leaves_no_intent_behind(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
) -> None:
    body, key = await zoom_body(), new_key()
    zoom.create.side_effect = None
    zoom.create.return_value = httpx.Response(
        404, json={"code": 1001, "message": "User does not exist"}
    )

    answer = await post(body, key)

    assert answer.status_code >= 400
    assert await meeting_rows(apps["meetings"], body["session_id"]) == []
    assert zoom.list.call_count == 0


async def test_a_cancel_arriving_while_zoom_makes_the_meeting_deletes_it_afterwards(
    zoom: FakeZoom,
    zoom_body: Callable[..., Any],
    post: Callable[..., Any],
    apps: dict[str, FastAPI],
) -> None:
    body, key = await zoom_body(), new_key()
    make = zoom._create
    cancelled: list[httpx.Response] = []

    async def cancel_meanwhile(request: httpx.Request) -> httpx.Response:
        # The intent is committed and no lock is held while Zoom works: a cancel gets through.
        cancelled.append(
            await post(
                {"reason": "Dibatalkan", "provision_keys": [key]},
                new_key(),
                path=f"/internal/v1/sessions/{body['session_id']}/cancel",
            )
        )
        return make(request)

    zoom.create.side_effect = cancel_meanwhile

    answer = await post(body, key)

    assert cancelled[0].status_code == 200, cancelled[0].text
    assert_problem(answer, 409)
    assert zoom.create.call_count == 1
    assert zoom.meetings == {}  # what Zoom made after the cancel was deleted there
    [meeting] = await meeting_rows(apps["meetings"], body["session_id"])
    assert meeting.status == MeetingStatus.cancelled
