"""The Zoom adapter against a fake Zoom (respx) that answers in Zoom's documented shapes.

What we send is checked as closely as what we do with the answers: the token request's Basic
auth and form, the bearer token, the meeting's body and privacy settings. Waiting is done by a
fake `sleep` that records how long it was asked to wait; the clock is a number the test sets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from services.meetings.providers import base
from services.meetings.providers.accounts import ZoomAccount
from services.meetings.providers.base import ProviderMeeting
from services.meetings.providers.errors import (
    ProviderCallUncertain,
    ProviderError,
    ProviderMeetingGone,
    ProviderMeetingInProgress,
    ProviderRefused,
    ProviderUnavailable,
)
from services.meetings.providers.jitsi import JitsiProvider
from services.meetings.providers.zoom import ZoomProvider, ZoomTokenCache
from shared.contracts.meetings import Clearance, Host, ProvisionRequest, RescheduleRequest
from shared.observability import JsonFormatter
from shared.stages import Provider

OAUTH = "https://zoom.us"
API = "https://api.zoom.us/v2"
CLIENT_SECRET = "zoom-client-secret-Q9xv7Lm2"
ACCOUNT = ZoomAccount(
    account_id="AbC1dEfGhIjKlMn",
    client_id="zoomClientId42",
    client_secret=CLIENT_SECRET,
    host_user="konselor@sekolah.example",
)
MEETING_ID = 98765432109  # more than 32 bits, as Zoom's are
ZAK = "eyJ6bV9za20iOiJ6bV9vMm0iLCJ6YWsiOiJob3N0LXphay1zZWNyZXQifQ"
START_URL = f"https://us06web.zoom.us/s/{MEETING_ID}?zak={ZAK}"
MEMBER_LINK = f"https://us06web.zoom.us/w/{MEETING_ID}?tk=member-registrant-token-77&pwd=x"
JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2030, 3, 4, 9, 0, tzinfo=JAKARTA)
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC).timestamp()
MEETING = ProviderMeeting(provider_ref=str(MEETING_ID), host_url=START_URL, passcode="aB3dE5gH7j")
SECRETS = (CLIENT_SECRET, ZAK, "access-token-", "member-registrant-token")


def access_token(n: int) -> str:
    return f"access-token-{n}-eyJhbGciOiJIUzUxMiJ9"


def token_answer(n: int = 1, expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": access_token(n),
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": "meeting:write:admin meeting:read:admin",
        },
    )


def meeting_answer(status: int = 201, **changes: Any) -> httpx.Response:
    meeting = {
        "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
        "id": MEETING_ID,
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "host_email": ACCOUNT.host_user,
        "topic": "Mengelola stres menjelang ujian",
        "type": 2,
        "status": "waiting",
        "start_time": "2030-03-04T02:00:00Z",
        "duration": 60,
        "timezone": "Asia/Jakarta",
        "agenda": "Lingkar session",
        "created_at": "2030-03-01T08:00:00Z",
        "start_url": START_URL,
        "join_url": f"https://us06web.zoom.us/j/{MEETING_ID}?pwd=Ux2Zr5Rx1u0n9gEaP2hpX1ND.1",
        "password": "aB3dE5gH7j",
        "h323_password": "839201",
        "pstn_password": "839201",
        "encrypted_password": "Ux2Zr5Rx1u0n9gEaP2hpX1ND.1",
        "settings": {"waiting_room": True, "join_before_host": False, "approval_type": 0},
        "pre_schedule": False,
    }
    return httpx.Response(status, json={**meeting, **changes})


def zoom_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message}, headers=headers)


def provision_request(title: str = "Mengelola stres menjelang ujian") -> ProvisionRequest:
    session_id = uuid.uuid4()
    return ProvisionRequest(
        school_id=uuid.uuid4(),
        session_id=session_id,
        provider=Provider.zoom,
        title=title,
        scheduled_start=START,
        duration_minutes=60,
        timezone="Asia/Jakarta",
        host=Host(person_id=uuid.uuid4(), name="Bu Rina"),
        clearance=Clearance(session_id=session_id, platform=Provider.zoom, text_version="v1"),
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Waits(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here: nothing secret in any log line, at any level."""
    caplog.set_level(logging.DEBUG)
    yield
    formatter = JsonFormatter("meetings")
    records = caplog.get_records("setup") + caplog.get_records("call")
    lines = [formatter.format(record) for record in records]
    leaked = [line for line in lines if any(secret in line for secret in SECRETS)]
    assert not leaked


@pytest.fixture
def zoom() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def token_route(zoom: respx.MockRouter) -> respx.Route:
    answers = (token_answer(n) for n in range(1, 100))
    return zoom.post(f"{OAUTH}/oauth/token").mock(side_effect=lambda _: next(answers))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens() -> ZoomTokenCache:
    return ZoomTokenCache()


@pytest.fixture
def adapter(
    http: httpx.AsyncClient, tokens: ZoomTokenCache, waits: Waits, clock: FakeClock
) -> ZoomProvider:
    return ZoomProvider(
        ACCOUNT,
        oauth_url=OAUTH,
        api_url=API,
        tokens=tokens,
        http=http,
        sleep=waits,
        clock=clock,
    )


def bearer(route: respx.Route, call: int = -1) -> str:
    return str(route.calls[call].request.headers["Authorization"])


def sent_json(route: respx.Route, call: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[call].request.content)
    return body


def create_route(zoom: respx.MockRouter) -> respx.Route:
    return zoom.post(f"{API}/users/konselor@sekolah.example/meetings")


# --- the token -------------------------------------------------------------------------------


async def test_token_is_asked_with_basic_auth_and_the_account_credentials_grant(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    create_route(zoom).mock(return_value=meeting_answer())

    await adapter.create(provision_request())

    sent = token_route.calls.last.request
    basic = base64.b64encode(f"{ACCOUNT.client_id}:{CLIENT_SECRET}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {basic}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.content.decode()) == {
        "grant_type": ["account_credentials"],
        "account_id": [ACCOUNT.account_id],
    }
    assert not sent.url.query  # the credentials travel in the body, not the URL


async def test_one_token_serves_concurrent_calls_and_every_adapter_of_the_app(
    http: httpx.AsyncClient, tokens: ZoomTokenCache, zoom: respx.MockRouter
) -> None:
    async def slow_token(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # both calls are waiting for it at once
        return token_answer(1)

    token_route = zoom.post(f"{OAUTH}/oauth/token").mock(side_effect=slow_token)
    meeting_route = zoom.get(f"{API}/meetings/{MEETING_ID}").mock(return_value=meeting_answer(200))
    first, second = (
        ZoomProvider(ACCOUNT, oauth_url=OAUTH, api_url=API, tokens=tokens, http=http)
        for _ in range(2)
    )

    await asyncio.gather(first.fresh_host_url(MEETING), second.fresh_host_url(MEETING))

    assert token_route.call_count == 1
    assert [c.request.headers["Authorization"] for c in meeting_route.calls] == [
        f"Bearer {access_token(1)}"
    ] * 2


async def test_token_is_asked_again_five_minutes_before_it_expires(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, clock: FakeClock
) -> None:
    route = zoom.get(f"{API}/meetings/{MEETING_ID}").mock(return_value=meeting_answer(200))

    await adapter.fresh_host_url(MEETING)
    clock.now += 3600 - 300 - 1
    await adapter.fresh_host_url(MEETING)
    assert token_route.call_count == 1
    assert bearer(route) == f"Bearer {access_token(1)}"

    clock.now += 1
    await adapter.fresh_host_url(MEETING)
    assert token_route.call_count == 2
    assert bearer(route) == f"Bearer {access_token(2)}"


async def test_a_token_zoom_calls_expired_is_renewed_and_the_call_made_once_more(
    adapter: ZoomProvider,
    zoom: respx.MockRouter,
    token_route: respx.Route,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = create_route(zoom).mock(
        side_effect=[zoom_error(401, 124, "Invalid access token."), meeting_answer()]
    )

    created = await adapter.create(provision_request())

    assert created.provider_ref == str(MEETING_ID)
    assert token_route.call_count == 2
    assert [bearer(route, 0), bearer(route, 1)] == [
        f"Bearer {access_token(1)}",
        f"Bearer {access_token(2)}",
    ]
    logged = [
        (r.call, r.status, r.zoom_code)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "zoom call"
    ]
    assert logged == [
        ("token", 200, None),
        ("create", 401, 124),
        ("token", 200, None),
        ("create", 201, None),
    ]


async def test_a_new_token_refused_as_expired_again_is_an_error_not_a_loop(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = create_route(zoom).mock(return_value=zoom_error(401, 124, "Invalid access token."))

    with pytest.raises(ProviderRefused) as refused:
        await adapter.create(provision_request())

    assert route.call_count == 2
    assert token_route.call_count == 2
    assert "expired" in refused.value.detail


async def test_wrong_app_credentials_are_refused_in_words_a_school_admin_understands(
    adapter: ZoomProvider, zoom: respx.MockRouter
) -> None:
    zoom.post(f"{OAUTH}/oauth/token").mock(
        return_value=httpx.Response(
            400, json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        )
    )
    meetings = create_route(zoom)

    with pytest.raises(ProviderRefused) as refused:
        await adapter.create(provision_request())

    assert "Zoom app credentials were refused" in refused.value.detail
    assert refused.value.status == 409
    assert refused.value.extensions["provider"] == "zoom"
    assert CLIENT_SECRET not in str(refused.value)
    assert meetings.call_count == 0


async def test_an_api_401_other_than_an_expired_token_says_the_credentials_were_refused(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    zoom.get(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=zoom_error(401, 4700, "Invalid access token, does not contain scopes.")
    )

    with pytest.raises(ProviderRefused, match="credentials were refused"):
        await adapter.fresh_host_url(MEETING)
    assert token_route.call_count == 1


# --- create ----------------------------------------------------------------------------------


async def test_create_makes_a_scheduled_meeting_with_the_counselors_privacy_settings(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = create_route(zoom).mock(return_value=meeting_answer())
    request = provision_request()

    created = await adapter.create(request)

    assert bearer(route) == f"Bearer {access_token(1)}"
    sent = sent_json(route)
    assert sent["topic"] == request.title
    assert sent["type"] == 2
    assert sent["start_time"] == "2030-03-04T02:00:00Z"  # 09:00 in Jakarta, in UTC
    assert sent["duration"] == 60
    assert sent["timezone"] == "Asia/Jakarta"
    assert re.fullmatch(r"[A-Za-z0-9]{10}", sent["password"])
    assert sent["agenda"] == f"Lingkar session {request.session_id}"
    assert (
        sent["settings"]
        | {
            "waiting_room": True,
            "join_before_host": False,
            "mute_upon_entry": True,
            "auto_recording": "none",
            "approval_type": 0,
            "host_video": True,
            "participant_video": False,
        }
        == sent["settings"]
    )
    assert created == ProviderMeeting(
        provider_ref="98765432109", host_url=START_URL, passcode="aB3dE5gH7j"
    )


async def test_every_meeting_gets_its_own_passcode_and_a_long_title_is_cut(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = create_route(zoom).mock(return_value=meeting_answer())

    await adapter.create(provision_request(title="Bimbingan " * 40))
    await adapter.create(provision_request())

    first, second = sent_json(route, 0), sent_json(route, 1)
    assert len(first["topic"]) == 200
    assert first["password"] != second["password"]


async def test_a_create_that_timed_out_after_sending_is_uncertain_and_not_sent_again(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    route = create_route(zoom).mock(side_effect=httpx.ReadTimeout("no answer"))

    with pytest.raises(ProviderCallUncertain) as uncertain:
        await adapter.create(provision_request())

    assert route.call_count == 1
    assert waits == []
    assert uncertain.value.status == 503
    assert "may or may not exist" in uncertain.value.detail


async def test_a_create_that_could_not_connect_is_sent_again(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    route = create_route(zoom).mock(
        side_effect=[httpx.ConnectTimeout("no connection"), meeting_answer()]
    )

    created = await adapter.create(provision_request())

    assert created.provider_ref == str(MEETING_ID)
    assert route.call_count == 2
    assert len(waits) == 1


async def test_a_create_failing_with_500_is_retried_but_a_gateway_timeout_is_uncertain(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    route = create_route(zoom).mock(
        side_effect=[zoom_error(500, 500, "Internal server error"), meeting_answer()]
    )
    assert (await adapter.create(provision_request())).provider_ref == str(MEETING_ID)
    assert route.call_count == 2

    route.mock(side_effect=[httpx.Response(504, text="Gateway Timeout")])
    with pytest.raises(ProviderCallUncertain):
        await adapter.create(provision_request())
    assert route.call_count == 3


async def test_zoom_refusing_the_host_user_is_said_plainly(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    create_route(zoom).mock(return_value=zoom_error(404, 1001, "User does not exist: x@y."))

    with pytest.raises(ProviderRefused, match=r"host user .* does not exist"):
        await adapter.create(provision_request())


async def test_a_validation_refusal_carries_zooms_reason(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    create_route(zoom).mock(return_value=zoom_error(400, 300, "The start_time is in the past."))

    with pytest.raises(ProviderError, match="start_time is in the past"):
        await adapter.create(provision_request())


# --- rate limits and failures ----------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    [
        "12",
        format_datetime(datetime.fromtimestamp(NOW + 12, UTC), usegmt=True),
        datetime.fromtimestamp(NOW + 12, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ],
    ids=["seconds", "http-date", "timestamp"],
)
async def test_429_waits_as_long_as_retry_after_says_in_any_of_its_forms(
    retry_after: str,
    adapter: ZoomProvider,
    zoom: respx.MockRouter,
    token_route: respx.Route,
    waits: Waits,
) -> None:
    slow_down = zoom_error(
        429,
        429,
        "You have reached the maximum per-second rate limit for this API. Try again later.",
        **{"Retry-After": retry_after},
    )
    route = create_route(zoom).mock(side_effect=[slow_down, meeting_answer()])

    created = await adapter.create(provision_request())

    assert created.provider_ref == str(MEETING_ID)
    assert waits == [pytest.approx(12.0)]
    assert route.call_count == 2


async def test_429_without_retry_after_backs_off_1_2_4_seconds_then_gives_up(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    slow_down = zoom_error(429, 429, "You have reached the maximum per-second rate limit.")
    route = create_route(zoom).mock(return_value=slow_down)

    with pytest.raises(ProviderUnavailable) as unavailable:
        await adapter.create(provision_request())

    assert route.call_count == 4  # the call and three retries
    assert len(waits) == 3
    for wait, ceiling in zip(waits, (1, 2, 4), strict=True):
        assert ceiling / 2 <= wait <= ceiling  # jittered
    assert unavailable.value.status == 503
    assert unavailable.value.title == "Provider unavailable"
    assert "Zoom" in unavailable.value.detail


async def test_the_daily_limit_of_the_host_gives_up_at_once_and_says_when_it_resets(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    route = create_route(zoom).mock(
        return_value=zoom_error(
            429,
            429,
            "You have exceeded the daily rate limit (100) of Meeting Create/Update API "
            "requests permitted for this particular user. You may resume these requests at "
            "GMT 00:00:00.",
        )
    )

    with pytest.raises(ProviderUnavailable) as unavailable:
        await adapter.create(provision_request())

    assert route.call_count == 1
    assert waits == []
    assert "100 meetings" in unavailable.value.detail
    assert "00:00 UTC" in unavailable.value.detail


async def test_a_retry_after_beyond_a_minute_gives_up_at_once(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    create_route(zoom).mock(
        return_value=zoom_error(429, 429, "Too many requests.", **{"Retry-After": "3600"})
    )

    with pytest.raises(ProviderUnavailable, match="60 minutes"):
        await adapter.create(provision_request())
    assert waits == []


async def test_a_5xx_then_success_is_retried_after_a_backoff(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    route = zoom.get(f"{API}/meetings/{MEETING_ID}").mock(
        side_effect=[httpx.Response(503, text="Service Unavailable"), meeting_answer(200)]
    )

    assert await adapter.fresh_host_url(MEETING) == START_URL
    assert route.call_count == 2
    assert len(waits) == 1 and 0.5 <= waits[0] <= 1


async def test_zoom_down_for_every_try_is_unavailable_naming_the_provider(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    zoom.patch(f"{API}/meetings/{MEETING_ID}").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(ProviderUnavailable) as unavailable:
        await adapter.update(MEETING, reschedule())

    assert unavailable.value.extensions["provider"] == "zoom"
    assert "could not be reached" in unavailable.value.detail
    assert len(waits) == 3


# --- update, delete ---------------------------------------------------------------------------


def reschedule() -> RescheduleRequest:
    return RescheduleRequest(
        scheduled_start=START + timedelta(days=1),
        duration_minutes=45,
        title="Mengelola stres (dipindah)",
    )


@pytest.mark.parametrize("answer", [204, 200])
async def test_reschedule_patches_the_meeting_then_reads_it_back(
    answer: int, adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    patch = zoom.patch(f"{API}/meetings/{MEETING_ID}").mock(return_value=httpx.Response(answer))
    read = zoom.get(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=meeting_answer(200, start_time="2030-03-05T02:00:00Z", duration=45)
    )

    await adapter.update(MEETING, reschedule())

    assert sent_json(patch) == {
        "topic": "Mengelola stres (dipindah)",
        "start_time": "2030-03-05T02:00:00Z",
        "duration": 45,
    }
    assert bearer(patch) == f"Bearer {access_token(1)}"
    assert read.call_count == 1


async def test_a_reschedule_zoom_did_not_keep_is_an_error(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    zoom.patch(f"{API}/meetings/{MEETING_ID}").mock(return_value=httpx.Response(204))
    zoom.get(f"{API}/meetings/{MEETING_ID}").mock(return_value=meeting_answer(200))

    with pytest.raises(ProviderError, match="did not keep the new time"):
        await adapter.update(MEETING, reschedule())


async def test_a_reschedule_that_timed_out_is_sent_again(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route, waits: Waits
) -> None:
    patch = zoom.patch(f"{API}/meetings/{MEETING_ID}").mock(
        side_effect=[httpx.ReadTimeout("no answer"), httpx.Response(204)]
    )
    zoom.get(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=meeting_answer(200, start_time="2030-03-05T02:00:00Z")
    )

    await adapter.update(MEETING, reschedule())

    assert patch.call_count == 2
    assert len(waits) == 1


async def test_rescheduling_a_meeting_deleted_in_zoom_says_so(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    zoom.patch(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=zoom_error(404, 3001, f"Meeting does not exist: {MEETING_ID}.")
    )

    with pytest.raises(ProviderMeetingGone, match="no longer exists"):
        await adapter.update(MEETING, reschedule())


async def test_cancel_deletes_the_meeting(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = zoom.delete(f"{API}/meetings/{MEETING_ID}").mock(return_value=httpx.Response(204))

    await adapter.delete(MEETING)

    assert bearer(route) == f"Bearer {access_token(1)}"


async def test_deleting_a_meeting_already_deleted_is_success(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = zoom.delete(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=zoom_error(404, 3001, f"Meeting does not exist: {MEETING_ID}.")
    )

    await adapter.delete(MEETING)
    assert route.call_count == 1


async def test_deleting_a_meeting_in_progress_says_so(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    zoom.delete(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=zoom_error(
            400, 3002, "Sorry, you cannot delete this meeting since it is in progress."
        )
    )

    with pytest.raises(ProviderMeetingInProgress, match="in progress"):
        await adapter.delete(MEETING)


async def test_a_host_user_who_is_not_the_meetings_host_is_said_plainly(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    zoom.delete(f"{API}/meetings/{MEETING_ID}").mock(
        return_value=zoom_error(400, 3003, "You are not the meeting host.")
    )

    with pytest.raises(ProviderRefused, match="not this meeting's host"):
        await adapter.delete(MEETING)


# --- members' links and the host's link ------------------------------------------------------


async def test_each_member_is_registered_for_a_link_of_their_own(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    route = zoom.post(f"{API}/meetings/{MEETING_ID}/registrants").mock(
        return_value=httpx.Response(
            201,
            json={
                "id": MEETING_ID,
                "registrant_id": "fdgsfh2ey82fuh",
                "join_url": MEMBER_LINK,
                "participant_pin_code": 380303,
                "topic": "Mengelola stres menjelang ujian",
                "start_time": "2030-03-04T02:00:00Z",
            },
        )
    )
    person = str(uuid.uuid4())

    first = await adapter.join_link_for(MEETING, display_name="Siswa Contoh", person_key=person)
    again = await adapter.join_link_for(MEETING, display_name="Siswa Contoh", person_key=person)

    assert first == again == MEMBER_LINK
    assert first != START_URL
    assert (
        sent_json(route, 0)
        == sent_json(route, 1)
        == {
            "email": f"{person}@members.lingkar.invalid",
            "first_name": "Siswa Contoh",
            "auto_approve": True,
        }
    )


async def test_the_host_link_is_fetched_fresh_near_the_start(
    adapter: ZoomProvider, zoom: respx.MockRouter, token_route: respx.Route
) -> None:
    fresh = START_URL.replace(ZAK, ZAK[::-1])
    zoom.get(f"{API}/meetings/{MEETING_ID}").mock(return_value=meeting_answer(200, start_url=fresh))

    assert await base.fresh_host_url(adapter, MEETING) == fresh
    jitsi = JitsiProvider("https://jitsi.example.sch.id")
    room = ProviderMeeting(provider_ref="LingkarROOM", host_url="https://jitsi.example.sch.id/R")
    assert await base.fresh_host_url(jitsi, room) == room.host_url
