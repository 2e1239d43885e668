"""The join gate (`GET /j/{token}`): the member's click is let through only when they are still
cleared at that moment (asked of the real api), and the session is open. Every click is kept.

The clock of the join gate is moved with `clock`; the api is the real in-process api app,
reached by the meetings service's own service client (`api_reachable`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent.texts import CURRENT_TEXT_VERSION
from services.meetings.join import service as join_service
from services.meetings.join.models import JoinEvent
from services.meetings.join.pages import preferred_language
from services.meetings.participants.models import Participant
from services.meetings.providers.errors import ProviderError, ProviderRefused, ProviderUnavailable
from services.meetings.providers.jitsi import JitsiProvider
from shared.contracts.meetings import (
    AdmitRequest,
    Clearance,
    ClearedParticipant,
    ConsentEvidence,
)
from shared.gate import Signer
from shared.observability import JsonFormatter
from shared.service_client import ServiceClient
from shared.stages import Provider
from tests.factories import COMPLETE_PLAN, SchoolKit, eventually, follow_host_link, grant_consent

JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2030, 3, 4, 9, 0, tzinfo=JAKARTA)  # a Monday
INSIDE = START - timedelta(minutes=5)
JITSI_SERVER = "https://jitsi.example.sch.id"


@dataclass
class Clock:
    now: datetime = INSIDE


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The join gate's clock; inside the join window unless a test moves it."""
    frozen = Clock()
    monkeypatch.setattr(join_service, "utcnow", lambda: frozen.now)
    return frozen


Connect = Callable[[httpx.AsyncBaseTransport], None]


@pytest.fixture
async def connect(apps: dict[str, FastAPI]) -> AsyncIterator[Connect]:
    """Give the meetings service a service client whose calls go through `transport`; the
    original client is put back afterwards."""
    state = apps["meetings"].state
    original, made = state.service_client, []

    def install(transport: httpx.AsyncBaseTransport) -> None:
        client = ServiceClient(
            caller="meetings",
            tokens=state.service_tokens,
            transport=transport,
            backoff_seconds=0.001,
        )
        made.append(client)
        state.service_client = client

    yield install
    state.service_client = original
    for client in made:
        await client.aclose()


@pytest.fixture
def api_reachable(apps: dict[str, FastAPI], connect: Connect) -> None:
    """The meetings service's calls to the api reach the in-process api app."""
    connect(httpx.ASGITransport(app=apps["api"]))


@dataclass
class Member:
    session: dict[str, Any]
    student: dict[str, Any]
    meeting: dict[str, Any]
    link: str

    @property
    def path(self) -> str:
        return urlsplit(self.link).path

    @property
    def token(self) -> str:
        return self.link.rsplit("/j/", 1)[1]


async def adult(school: SchoolKit, name: str | None = None) -> dict[str, Any]:
    """A student of age: their own consent clears them, no guardian's is needed."""
    return await school.user("student", name=name, birth_date="2000-01-01")


def evidence_for(student: dict[str, Any], consent_id: uuid.UUID) -> ClearedParticipant:
    return ClearedParticipant(
        person_id=uuid.UUID(student["id"]),
        name=student["name"],
        needs_guardian=False,
        consents=[
            ConsentEvidence(
                consent_id=consent_id,
                signer=Signer.student,
                platform=Provider.jitsi,
                text_version=CURRENT_TEXT_VERSION,
                granted=True,
            )
        ],
    )


@pytest.fixture
async def member(school: SchoolKit, apps: dict[str, FastAPI]) -> Member:
    """A session run the real way: two adult members who consented, the plan, the
    attestation, preparation; the api's outbox asks the meetings service for the meeting and
    the members' links. The first member is the one the tests click as."""
    counselor = await school.user("counselor")
    students = [await adult(school, "Siti Nur'aini"), await adult(school)]
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok Belajar",
            "counselor_id": counselor["id"],
            "member_ids": [s["id"] for s in students],
            "field": "learning",
        },
    )
    session = await school.session(
        group={**group, "counselor": counselor}, scheduled_start=START.isoformat()
    )
    sid = session["id"]
    chosen = await school.api.put(
        f"/v1/sessions/{sid}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    assert chosen.status_code == 200, chosen.text
    for student in students:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await school.api.put(f"/v1/sessions/{sid}/plan", json=COMPLETE_PLAN, headers=school.auth)
    await school.post(f"/v1/sessions/{sid}/attestation", {})
    await school.post(f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, expect=200)

    async def links_issued() -> Any:
        view = await school.api.get(f"/v1/sessions/{sid}/meeting", headers=school.auth)
        return view.json() if view.status_code == 200 and len(view.json()["members"]) == 2 else None

    view = await eventually(links_issued)
    meeting = {
        "id": (await school.get(f"/v1/sessions/{sid}"))["meeting"]["id"],
        "host_url": view["host_url"],
        "join_links": [
            {"person_id": m["student_id"], "join_url": m["join_url"]} for m in view["members"]
        ],
    }
    link = next(
        link["join_url"] for link in meeting["join_links"] if link["person_id"] == students[0]["id"]
    )
    return Member(session=session, student=students[0], meeting=meeting, link=link)


async def participant_of(app: FastAPI, token: str) -> Participant:
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with AsyncSession(app.state.engine) as db:
        row = (await db.exec(select(Participant).where(Participant.token_hash == digest))).one()
    return row


async def events_of(app: FastAPI, participant_id: uuid.UUID) -> list[JoinEvent]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(JoinEvent)
            .where(JoinEvent.participant_id == participant_id)
            .order_by(col(JoinEvent.at))
        )
        return list(rows.all())


def assert_page(answer: httpx.Response, status: int, language: str = "id") -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-language"] == language
    assert answer.headers["cache-control"] == "no-store"
    assert f'<html lang="{language}">' in answer.text
    return answer.text


# --- let through ----------------------------------------------------------------------------


async def test_a_cleared_member_inside_the_window_is_sent_to_the_jitsi_room_by_name(
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    clock: Clock,
    api_reachable: None,
) -> None:
    answer = await meetings.get(member.path, headers={"User-Agent": "Mozilla/5.0 (Android)"})

    assert answer.status_code == 302, answer.text
    room = await follow_host_link(meetings, member.meeting["host_url"])
    assert room.startswith(f"{JITSI_SERVER}/Lingkar")
    target, _, fragment = answer.headers["location"].partition("#")
    assert target == room
    assert unquote(fragment) == 'userInfo.displayName="Siti Nur\'aini"'
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    participant = await participant_of(apps["meetings"], member.token)
    [event] = await events_of(apps["meetings"], participant.id)
    assert event.outcome == "admitted"
    assert str(event.meeting_id) == member.meeting["id"]
    assert event.user_agent == "Mozilla/5.0 (Android)"
    assert event.client_address


async def test_a_burst_of_clicks_larger_than_the_pool_is_let_in_without_waiting(
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    clock: Clock,
    api_reachable: None,
) -> None:
    """A class clicks its links at the start. The provider's account was read on a second
    connection: on PostgreSQL, a burst of clicks each holding one and waiting for another
    waited out the pool's time-out and answered 503."""
    pool = apps["meetings"].state.engine.sync_engine.pool
    clicks = (pool.size() if hasattr(pool, "size") else 5) + 2

    answers = await asyncio.wait_for(
        asyncio.gather(*(meetings.get(member.path) for _ in range(clicks))), timeout=4
    )

    assert [a.status_code for a in answers] == [302] * clicks, answers[-1].text
    participant = await participant_of(apps["meetings"], member.token)
    outcomes = [event.outcome for event in await events_of(apps["meetings"], participant.id)]
    assert outcomes == ["admitted"] * clicks


class HeldConnections:
    """The connections of an engine's pool that the asking task has checked out now (the
    api's relay may be calling the meetings service meanwhile: its connections are not the
    click's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._holders: dict[int, asyncio.Task[Any] | None] = {}
        pool = engine.sync_engine.pool
        sqlalchemy.event.listen(pool, "checkout", self._out)
        sqlalchemy.event.listen(pool, "checkin", self._in)
        self._pool = pool

    def _out(self, connection: Any, *_: Any) -> None:
        self._holders[id(connection)] = asyncio.current_task()

    def _in(self, connection: Any, *_: Any) -> None:
        self._holders.pop(id(connection), None)

    def now(self) -> int:
        mine = asyncio.current_task()
        return sum(1 for task in self._holders.values() if task is mine)

    def close(self) -> None:
        sqlalchemy.event.remove(self._pool, "checkout", self._out)
        sqlalchemy.event.remove(self._pool, "checkin", self._in)


class Watched(httpx.AsyncBaseTransport):
    """Calls go on to `inner`; what `seen` says at the moment of each call is kept."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seen: Callable[[], int]) -> None:
        self.inner, self.seen, self.held = inner, seen, list[int]()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.held.append(self.seen())
        return await self.inner.handle_async_request(request)


async def test_a_click_holds_no_database_connection_through_the_api_and_the_provider(
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    connect: Connect,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clearance call to the api and the provider's calls (Zoom registers the member at
    the click; the host link is fetched at the click) take as long as those services take: a
    connection held through them is one the rest of the class waits for."""
    held = HeldConnections(apps["meetings"].state.engine)
    api = Watched(httpx.ASGITransport(app=apps["api"]), held.now)
    connect(api)
    at_provider: list[int] = []
    join_link_for = JitsiProvider.join_link_for
    fresh_host_url = join_service.fresh_host_url

    async def member_link(self: JitsiProvider, *args: Any, **kwargs: Any) -> str:
        at_provider.append(held.now())
        return await join_link_for(self, *args, **kwargs)

    async def host_link(adapter: Any, meeting: Any) -> str:
        at_provider.append(held.now())
        return await fresh_host_url(adapter, meeting)

    monkeypatch.setattr(JitsiProvider, "join_link_for", member_link)
    monkeypatch.setattr(join_service, "fresh_host_url", host_link)
    try:
        joined = await meetings.get(member.path)
        hosted = await meetings.get(urlsplit(member.meeting["host_url"]).path)
    finally:
        held.close()

    assert (joined.status_code, hosted.status_code) == (302, 302), joined.text
    assert api.held == [0], "the clearance call was made holding a connection"
    assert at_provider == [0, 0], "a provider was called holding a connection"
    participant = await participant_of(apps["meetings"], member.token)
    assert [e.outcome for e in await events_of(apps["meetings"], participant.id)] == ["admitted"]


async def test_the_window_opens_15_minutes_before_the_start_and_closes_at_the_end(
    member: Member, meetings: httpx.AsyncClient, clock: Clock, api_reachable: None
) -> None:
    outcomes = []
    for moment in (
        START - timedelta(minutes=15, seconds=1),
        START - timedelta(minutes=15),
        START + timedelta(minutes=60),
        START + timedelta(minutes=60, seconds=1),
    ):
        clock.now = moment
        outcomes.append((await meetings.get(member.path)).status_code)

    assert outcomes == [403, 302, 302, 410]


async def test_a_member_rescheduled_into_the_window_is_let_in(
    member: Member,
    meetings: httpx.AsyncClient,
    service_token: Callable[[str], str],
    clock: Clock,
    api_reachable: None,
) -> None:
    clock.now = START - timedelta(days=2)
    early = await meetings.get(member.path)

    moved = await meetings.post(
        f"/internal/v1/meetings/{member.meeting['id']}/reschedule",
        json={
            "scheduled_start": (clock.now + timedelta(minutes=10)).isoformat(),
            "duration_minutes": 60,
            "title": "Dimajukan",
        },
        headers={"Authorization": f"Bearer {service_token('meetings')}"},
    )

    assert early.status_code == 403
    assert moved.status_code == 200, moved.text
    assert (await meetings.get(member.path)).status_code == 302


# --- refused --------------------------------------------------------------------------------


async def test_a_forged_token_gets_a_404_page_and_the_attempt_is_kept(
    meetings: httpx.AsyncClient, apps: dict[str, FastAPI], clock: Clock
) -> None:
    agent = f"forger-{uuid.uuid4()}"

    answer = await meetings.get(f"/j/{secrets.token_urlsafe(32)}", headers={"User-Agent": agent})
    too_long = await meetings.get(f"/j/{'A' * 5000}")

    assert "Tautan tidak dikenali" in assert_page(answer, 404)
    assert too_long.status_code == 404
    async with AsyncSession(apps["meetings"].state.engine) as db:
        [event] = (await db.exec(select(JoinEvent).where(JoinEvent.user_agent == agent))).all()
    assert (event.outcome, event.participant_id, event.meeting_id) == (
        "refused_unknown",
        None,
        None,
    )


async def test_too_early_is_403_naming_when_the_room_opens_in_the_sessions_zone(
    member: Member, meetings: httpx.AsyncClient, clock: Clock
) -> None:
    clock.now = START - timedelta(days=1)

    page = await meetings.get(member.path)
    # The member's own language (Indonesian here) wins over what the browser asks for.
    english_browser = await meetings.get(member.path, headers={"Accept-Language": "en"})

    assert "Senin, 4 Maret 2030 pukul 08.45 WIB" in assert_page(page, 403)
    assert "Senin, 4 Maret 2030 pukul 08.45 WIB" in assert_page(english_browser, 403)


async def test_after_the_end_the_link_is_gone_with_410(
    member: Member, meetings: httpx.AsyncClient, apps: dict[str, FastAPI], clock: Clock
) -> None:
    clock.now = START + timedelta(hours=2)

    answer = await meetings.get(member.path)

    assert "Sesi telah berakhir" in assert_page(answer, 410)
    participant = await participant_of(apps["meetings"], member.token)
    assert [e.outcome for e in await events_of(apps["meetings"], participant.id)] == [
        "refused_ended"
    ]


async def test_withdrawn_consent_closes_the_join_link_at_the_very_next_click(
    member: Member,
    meetings: httpx.AsyncClient,
    school: SchoolKit,
    apps: dict[str, FastAPI],
    clock: Clock,
    api_reachable: None,
) -> None:
    before = await meetings.get(member.path)
    # The api cannot reach the meetings service for now: no revocation can arrive here, so
    # what refuses the next click is the check the gate makes at the click.
    router = apps["api"].state.service_transport
    meetings_transport = router.transports.pop("meetings.internal")
    try:
        await school.post(
            f"/v1/sessions/{member.session['id']}/consents/{member.student['id']}/withdraw",
            {"reason": "berubah pikiran"},
            expect=200,
        )
        after = await meetings.get(member.path)
        participant = await participant_of(apps["meetings"], member.token)
    finally:
        router.transports["meetings.internal"] = meetings_transport

    assert before.status_code == 302
    assert "Persetujuan Anda tidak aktif" in assert_page(after, 403)
    assert participant.status == "active"  # no revocation had reached us
    outcomes = [e.outcome for e in await events_of(apps["meetings"], participant.id)]
    assert outcomes == ["admitted", "refused_not_cleared"]

    async def revoked() -> bool:
        row = await participant_of(apps["meetings"], member.token)
        return row.status == "revoked"

    await eventually(revoked, seconds=15)  # and once it can, the revocation does arrive


async def test_a_member_whose_consent_the_api_does_not_hold_is_refused(
    member: Member,
    meetings: httpx.AsyncClient,
    school: SchoolKit,
    service_token: Callable[[str], str],
    clock: Clock,
    api_reachable: None,
) -> None:
    """A clearance is only what the caller claimed; the api's records decide at the click."""
    outsider = await adult(school)
    claimed = AdmitRequest(
        clearance=Clearance(
            session_id=uuid.UUID(member.session["id"]),
            platform=Provider.jitsi,
            text_version=CURRENT_TEXT_VERSION,
            participants=[evidence_for(outsider, uuid.uuid4()).model_copy(update={"locale": "en"})],
        )
    )
    admitted = await meetings.post(
        f"/internal/v1/meetings/{member.meeting['id']}/participants",
        json=claimed.model_dump(mode="json"),
        headers={
            "Authorization": f"Bearer {service_token('meetings')}",
            "Idempotency-Key": f"admit:{uuid.uuid4()}",
        },
    )
    assert admitted.status_code == 200, admitted.text
    link = admitted.json()["join_links"][0]["join_url"]

    answer = await meetings.get(urlsplit(link).path, headers={"Accept-Language": "en-GB,en"})

    assert "Your consent is not active" in assert_page(answer, 403, "en")
    assert "contact your counselor" in answer.text.lower()


class Unreachable(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


class Answers(httpx.AsyncBaseTransport):
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status, content=self.body)


@pytest.mark.parametrize(
    "transport",
    [Unreachable(), Answers(500, b"{}"), Answers(200, b"<html>not json</html>")],
    ids=["down", "failing", "unreadable"],
)
async def test_when_the_api_cannot_confirm_the_gate_fails_closed_with_503(
    transport: httpx.AsyncBaseTransport,
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    connect: Connect,
    clock: Clock,
) -> None:
    connect(transport)

    answer = await meetings.get(member.path)

    assert "Coba lagi sebentar" in assert_page(answer, 503)
    assert answer.headers["retry-after"]
    participant = await participant_of(apps["meetings"], member.token)
    [event] = await events_of(apps["meetings"], participant.id)
    assert event.outcome == "refused_unavailable"


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("Zoom is not answering", provider="zoom"),
        ProviderRefused("the school's Zoom app was refused", provider="zoom"),
    ],
    ids=["down", "account-refused"],
)
async def test_when_the_provider_cannot_give_the_link_the_member_gets_a_page_and_it_is_kept(
    error: ProviderError,
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    clock: Clock,
    api_reachable: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cleared by the api, but the provider (Zoom registers the member at the click) is down
    or refuses the school's account: the member's page says to try again, not a JSON error."""

    async def fails(*_: Any, **__: Any) -> str:
        raise error

    monkeypatch.setattr(JitsiProvider, "join_link_for", fails)
    caplog.set_level(logging.WARNING, logger="lingkar.meetings.join")

    answer = await meetings.get(member.path, headers={"Accept-Language": "en"})

    page = assert_page(answer, 503)  # the member's own language: Indonesian
    assert "Layanan rapat daring" in page
    assert answer.headers["retry-after"] == "60"
    participant = await participant_of(apps["meetings"], member.token)
    [event] = await events_of(apps["meetings"], participant.id)
    assert event.outcome == "refused_provider_unavailable"
    [logged] = [r for r in caplog.records if "provider could not" in r.getMessage()]
    assert logged.__dict__["error"] == error.type


async def test_when_the_provider_cannot_give_the_host_link_the_counselor_gets_a_page(
    member: Member, meetings: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fails(*_: Any, **__: Any) -> str:
        raise ProviderUnavailable("Zoom is not answering", provider="zoom")

    monkeypatch.setattr(join_service, "fresh_host_url", fails)

    answer = await meetings.get(
        urlsplit(member.meeting["host_url"]).path, headers={"Accept-Language": "en"}
    )

    assert "The online meeting service cannot give" in assert_page(answer, 503, "en")
    assert answer.headers["retry-after"] == "60"


# --- link previews --------------------------------------------------------------------------

PREVIEWERS = [
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
]


# Members opening their link inside an app: the phone's browser agent, the app's name added.
IN_APP_BROWSERS = [
    "Mozilla/5.0 (Linux; Android 10; Redmi Note 7 Build/QKQ1.190920.002; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/81.0.4044.138 Mobile Safari/537.36 Viber/14.7.0.4",
    "Mozilla/5.0 (Linux; Android 13; SM-A536E Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/442.0.0.33.113;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.33.111;FBBV/540000000;FBDV/iPhone14,5]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Instagram 307.0.0.34.111 (iPhone14,5; iOS 17_1; id_ID; id)",
    "Mozilla/5.0 (Linux; Android 12; CPH2179) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0 Mobile Safari/537.36 Line/13.19.1/IAB",
    "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 "
    "Mobile Safari/537.36 Telegram-Android/10.2.9 (Samsung SM-A536E; Android 13; SDK 33)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) GSA/292.0.588 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [LinkedInApp]/9.29.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [Pinterest/iOS]",
]


@pytest.mark.parametrize("agent", IN_APP_BROWSERS)
def test_a_member_in_an_apps_own_browser_is_not_taken_for_a_previewer(agent: str) -> None:
    assert not join_service.Visitor(client_address=None, user_agent=agent).previewing


VIBERS_FETCHER = "Viber/18.0.1.286 CFNetwork/1335.0.3 Darwin/21.6.0"


@pytest.mark.parametrize("agent", [*PREVIEWERS, VIBERS_FETCHER])
def test_the_previewers_are_known_by_their_agent(agent: str) -> None:
    assert join_service.Visitor(client_address=None, user_agent=agent).previewing


@pytest.mark.parametrize("agent", PREVIEWERS)
async def test_a_chat_apps_link_preview_is_not_a_click_and_lets_nobody_in(
    agent: str,
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    connect: Connect,
    clock: Clock,
) -> None:
    """WhatsApp and Telegram fetch a link the moment the message arrives, to show a preview:
    that is neither the member's attendance nor a reason to ask the api or the provider."""
    connect(Unreachable())  # a clearance check would answer 503: none is made

    answer = await meetings.get(member.path, headers={"User-Agent": agent})

    page = assert_page(answer, 200)
    assert "location" not in answer.headers
    assert "Tautan pribadi Lingkar" in page
    assert member.session["title"] not in page  # the preview shows nothing of the session
    assert member.student["name"] not in page
    participant = await participant_of(apps["meetings"], member.token)
    [event] = await events_of(apps["meetings"], participant.id)
    assert (event.outcome, event.user_agent) == ("preview", agent)


async def test_a_preview_of_a_link_nobody_was_given_is_kept_as_that(
    meetings: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    agent = f"{PREVIEWERS[1]} {uuid.uuid4().hex}"

    answer = await meetings.get(f"/j/{secrets.token_urlsafe(32)}", headers={"User-Agent": agent})

    assert "Tautan pribadi Lingkar" in assert_page(answer, 200)
    async with AsyncSession(apps["meetings"].state.engine) as db:
        [event] = (await db.exec(select(JoinEvent).where(JoinEvent.user_agent == agent))).all()
    assert (event.outcome, event.participant_id) == ("refused_unknown", None)


async def test_after_a_preview_the_members_own_click_is_let_in_and_both_are_kept(
    member: Member,
    meetings: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    clock: Clock,
    api_reachable: None,
) -> None:
    preview = await meetings.get(member.path, headers={"User-Agent": PREVIEWERS[0]})
    # Opened inside Telegram: its in-app browser sends the phone's browser agent.
    in_app = (
        "Mozilla/5.0 (Linux; Android 13) Chrome/119.0 Mobile Safari/537.36 Telegram-Android/10.2"
    )
    click = await meetings.get(member.path, headers={"User-Agent": in_app})

    assert preview.status_code == 200, preview.text
    assert click.status_code == 302, click.text
    participant = await participant_of(apps["meetings"], member.token)
    events = await events_of(apps["meetings"], participant.id)
    assert [e.outcome for e in events] == ["preview", "admitted"]


async def test_a_preview_of_the_host_link_fetches_nothing_from_the_provider(
    member: Member, meetings: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def provider_called(*_: Any, **__: Any) -> str:
        raise AssertionError("a preview made a provider call")

    monkeypatch.setattr(join_service, "fresh_host_url", provider_called)
    host_path = urlsplit(member.meeting["host_url"]).path

    answer = await meetings.get(host_path, headers={"User-Agent": PREVIEWERS[1]})

    assert "Tautan pribadi Lingkar" in assert_page(answer, 200)
    assert "location" not in answer.headers


# --- the pages and the logs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [
        (None, "id"),
        ("en", "en"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("id;q=0.3, en;q=0.7", "en"),
        ("fr-FR,fr;q=0.9", "id"),
        ("in", "id"),
    ],
)
async def test_pages_are_in_indonesian_unless_the_browser_prefers_english(
    accept_language: str | None, language: str, meetings: httpx.AsyncClient
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}

    answer = await meetings.get(f"/j/{secrets.token_urlsafe(32)}", headers=headers)

    text = assert_page(answer, 404, language)
    assert ("Link not recognised" in text) == (language == "en")


def test_language_weights_are_read_and_bad_ones_ignored() -> None:
    assert preferred_language("en;q=abc, id;q=0.1") == "id"
    assert preferred_language("*") == "id"
    assert preferred_language("EN-us") == "en"


async def test_no_log_line_carries_a_join_token(
    member: Member,
    apps: dict[str, FastAPI],
    school: SchoolKit,
    clock: Clock,
    api_reachable: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = secrets.token_urlsafe(32)
    # Straight to the app: the test's own HTTP client would log the URL it requests, as a
    # member's browser would keep it in its history; what matters is what our services log.
    transport = httpx.ASGITransport(app=apps["meetings"])
    statuses = []
    for token in (member.token, forged):
        response = await transport.handle_async_request(
            httpx.Request("GET", f"https://meetings.test/j/{token}")
        )
        await response.aread()
        statuses.append(response.status_code)

    assert statuses == [302, 404]
    assert any(r.getMessage() == "join link clicked" for r in caplog.records)
    formatter = JsonFormatter("meetings")
    for record in caplog.records:
        line = formatter.format(record) + repr(record.__dict__)
        assert member.token not in line and forged not in line, line
