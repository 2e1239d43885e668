"""A provider that does not answer: the call gives up within its time-out, the reason is kept,
and the meeting is made (once) when the provider answers again.

The first part is real: Zoom's address points at a local server that accepts connections and
never answers. The recovery is Zoom as documented (respx), as in the Zoom flow tests.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import respx
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.sessions.provisioning import PROVISION
from services.meetings.meetings.models import Meeting
from services.meetings.providers.registry import CircuitBreaker
from services.meetings.providers.zoom import ZoomTokenCache, zoom_time
from shared.stages import Provider
from tests.api.test_zoom_flow import token_route, zoom_school, zoom_session  # noqa: F401
from tests.factories import SchoolKit, eventually
from tests.faults.proxy import Proxy

TIMEOUT = 0.5
HOST = "bk@sekolah.sch.id"


@pytest.fixture
async def zoom_not_answering(
    apps: dict[str, FastAPI],
    zoom_school: SchoolKit,  # noqa: F811
) -> AsyncIterator[None]:
    """Zoom's OAuth and API addresses lead to a server that never answers.

    The school's Zoom circuit breaker gets a short cool-down: the failures here open it, and it
    must let a trial through soon after Zoom is back. The token cache is the test's own: the
    call that times out is the token request, which makes nothing at Zoom (a create timing out
    after it was sent is the Zoom reconcile tests' case).
    """
    silent = Proxy(upstream_port=0)
    await silent.start()
    silent.go_silent()
    providers = apps["meetings"].state.providers
    tokens = providers.zoom_tokens
    providers.breakers[(Provider.zoom, zoom_school.school_id)] = CircuitBreaker(cooldown=TIMEOUT)
    providers.zoom_tokens = ZoomTokenCache()
    settings = apps["meetings"].state.settings
    saved = (settings.zoom_oauth_url, settings.zoom_api_url, settings.outside_call_timeout_seconds)
    settings.zoom_oauth_url = f"http://127.0.0.1:{silent.port}"
    settings.zoom_api_url = f"http://127.0.0.1:{silent.port}/v2"
    settings.outside_call_timeout_seconds = TIMEOUT
    try:
        yield
    finally:
        (
            settings.zoom_oauth_url,
            settings.zoom_api_url,
            settings.outside_call_timeout_seconds,
        ) = saved
        providers.zoom_tokens = tokens
        await silent.stop()


async def provisioning_of(app: FastAPI, session_id: str) -> list[OutboxMessage]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(select(OutboxMessage).where(OutboxMessage.kind == PROVISION))
        return [m for m in rows.all() if m.payload.get("session_id") == session_id]


async def meetings_of(app: FastAPI, session_id: str) -> list[Meeting]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(select(Meeting).where(Meeting.session_id == uuid.UUID(session_id)))
        return list(rows.all())


def zoom_answering(mock: respx.MockRouter) -> respx.Route:
    token_route(mock)
    return mock.post(f"https://api.zoom.us/v2/users/{HOST}/meetings").respond(
        201,
        json={
            "id": 85746065999,
            "join_url": "https://us02web.zoom.us/j/85746065999?pwd=x",
            "start_url": "https://us02web.zoom.us/s/85746065999?zak=z",
            "password": "Ab12Cd34Ef",
            "start_time": "2026-12-01T02:00:00Z",
            "duration": 60,
            "settings": {},
        },
    )


async def test_zoom_not_answering_gives_up_in_time_and_the_meeting_is_made_once_later(
    zoom_school: SchoolKit,  # noqa: F811
    apps: dict[str, FastAPI],
    zoom_not_answering: None,
) -> None:
    session = await zoom_session(zoom_school, apps, fallback=None)
    began = time.monotonic()
    await zoom_school.post(
        f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, expect=200
    )

    async def tried() -> OutboxMessage | None:
        [message] = await provisioning_of(apps["api"], session["id"])
        return message if message.attempts >= 1 else None

    waiting = await eventually(tried, seconds=15)
    # Each of the few tries gave up at the time-out: bounded, not a hang.
    assert time.monotonic() - began < 10 * TIMEOUT + 3.0
    assert waiting.status == "pending", waiting
    assert waiting.last_error and "zoom" in waiting.last_error.lower(), waiting.last_error
    assert (await zoom_school.get(f"/v1/sessions/{session['id']}"))["meeting"] is None
    assert await meetings_of(apps["meetings"], session["id"]) == []

    settings = apps["meetings"].state.settings
    settings.zoom_oauth_url, settings.zoom_api_url = "https://zoom.us", "https://api.zoom.us/v2"
    with respx.mock(assert_all_called=False) as mock:
        create = zoom_answering(mock)

        async def sent() -> bool:
            [message] = await provisioning_of(apps["api"], session["id"])
            return message.status != "pending"

        await eventually(sent, seconds=25)  # when the outbox's backoff says, on its own
    # Other tests' sessions may be retried meanwhile: count the creates for this one's time.
    starts = [json.loads(call.request.content)["start_time"] for call in create.calls]
    when = zoom_time(datetime.fromisoformat(session["scheduled_start"]))
    assert starts.count(when) == 1, starts
    view = await zoom_school.get(f"/v1/sessions/{session['id']}/meeting")
    assert view["provider"] == "zoom"
    [made] = await meetings_of(apps["meetings"], session["id"])
    assert made.provider == "zoom"
