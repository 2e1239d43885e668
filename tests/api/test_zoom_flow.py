"""Zoom through the whole flow: the school's account, the gate, the meeting at Zoom, a member's
own registrant link behind the join gate, and the fallback when Zoom is down."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.meetings.providers.zoom import RetryPolicy
from services.notifications.notifications.templates import render
from shared.service_client import ServiceClient
from tests.api.test_provisioning_races import settle
from tests.factories import (
    COMPLETE_PLAN,
    SchoolKit,
    follow_host_link,
    grant_consent,
    notifications_about,
)

ZOOM_TOKEN = "zoom-access-token-abc"
START_URL = "https://us02web.zoom.us/s/85746065432?zak=host-secret-zak"


@pytest.fixture
async def meetings_reach_api(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    """The join gate's click check (meetings → api) goes to the in-process api app."""
    state = apps["meetings"].state
    original = state.service_client
    state.service_client = ServiceClient(
        caller="meetings",
        tokens=state.service_tokens,
        transport=httpx.ASGITransport(app=apps["api"]),
    )
    yield
    await state.service_client.aclose()
    state.service_client = original


@pytest.fixture
async def zoom_school(school: SchoolKit, apps: dict[str, FastAPI]) -> SchoolKit:
    answer = await school.api.put(
        "/v1/school/providers/zoom",
        headers=school.auth,
        json={
            "account_id": "acc-1",
            "client_id": "cid-1",
            "client_secret": "zoom-client-secret",
            "host_user": "bk@sekolah.sch.id",
        },
    )
    assert answer.status_code == 200, answer.text
    apps["meetings"].state.providers.zoom_retry = RetryPolicy(retries=0)
    return school


async def zoom_session(
    school: SchoolKit, apps: dict[str, FastAPI], *, fallback: str | None
) -> dict[str, Any]:
    counselor = await school.user("counselor")
    students = [await school.user("student", birth_date="2000-01-01") for _ in range(2)]
    group = await school.post(
        "/v1/groups",
        {
            "name": "G",
            "counselor_id": counselor["id"],
            "field": "career",
            "member_ids": [s["id"] for s in students],
        },
    )
    start = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    session = await school.session(
        {**group, "counselor": counselor}, scheduled_start=start.isoformat()
    )
    body = {"provider": "zoom", **({"fallback_provider": fallback} if fallback else {})}
    await school.api.put(f"/v1/sessions/{session['id']}/platform", json=body, headers=school.auth)
    for student in students:
        await grant_consent(
            apps["api"],
            session=session,
            student_id=student["id"],
            platform="zoom",
            fallback_platform=fallback,
        )
    await school.api.put(
        f"/v1/sessions/{session['id']}/plan", json=COMPLETE_PLAN, headers=school.auth
    )
    await school.post(f"/v1/sessions/{session['id']}/attestation", {})
    session["students"] = students
    return session


def token_route(mock: respx.MockRouter) -> respx.Route:
    return mock.post("https://zoom.us/oauth/token").respond(
        200,
        json={
            "access_token": ZOOM_TOKEN,
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": "meeting:write:admin",
        },
    )


async def test_a_zoom_meeting_is_made_with_privacy_on_and_members_get_their_own_links(
    zoom_school: SchoolKit,
    apps: dict[str, FastAPI],
    meetings: httpx.AsyncClient,
    meetings_reach_api: None,
) -> None:
    session = await zoom_session(zoom_school, apps, fallback=None)
    with respx.mock(assert_all_called=False) as mock:
        token = token_route(mock)
        create = mock.post("https://api.zoom.us/v2/users/bk@sekolah.sch.id/meetings").respond(
            201,
            json={
                "id": 85746065432,
                "host_id": "h1",
                "topic": "t",
                "join_url": "https://us02web.zoom.us/j/85746065432?pwd=x",
                "start_url": START_URL,
                "password": "Ab12Cd34Ef",
                "h323_password": "1",
                "encrypted_password": "x",
                "start_time": "2026-12-01T02:00:00Z",
                "duration": 60,
                "settings": {},
            },
        )
        registrants = mock.post("https://api.zoom.us/v2/meetings/85746065432/registrants").respond(
            201,
            json={
                "id": 85746065432,
                "registrant_id": "r-1",
                "join_url": "https://us02web.zoom.us/w/85746065432?tk=own",
                "participant_pin_code": 1,
            },
        )
        await zoom_school.post(
            f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, expect=200
        )
        await settle(apps)

        assert token.called and create.call_count == 1
        sent = json.loads(create.calls[0].request.content)
        assert create.calls[0].request.headers["authorization"] == f"Bearer {ZOOM_TOKEN}"
        assert sent["type"] == 2 and sent["start_time"].endswith("Z")
        assert sent["settings"]["waiting_room"] is True
        assert sent["settings"]["join_before_host"] is False
        assert sent["settings"]["auto_recording"] == "none"
        view = await zoom_school.get(f"/v1/sessions/{session['id']}/meeting")
        assert view["provider"] == "zoom"
        # The counselor's link is Lingkar's host gate: Zoom's start link (with the host's
        # zak, expiring in about two hours) is fetched fresh at the click, never shown.
        answer = await zoom_school.api.get(
            f"/v1/sessions/{session['id']}/meeting", headers=zoom_school.auth
        )
        assert "zak=" not in answer.text and "host-secret" not in answer.text
        fresh = "https://us02web.zoom.us/s/85746065432?zak=fresh-zak"
        mock.get("https://api.zoom.us/v2/meetings/85746065432").respond(
            200,
            json={
                "id": 85746065432,
                "start_url": fresh,
                "join_url": "https://us02web.zoom.us/j/1",
                "start_time": "2026-12-01T02:00:00Z",
                "duration": 60,
            },
        )
        assert await follow_host_link(meetings, view["host_url"]) == fresh
        link = view["members"][0]["join_url"]
        assert "zoom.us" not in link  # a member's link is Lingkar's gate, never Zoom's

        clicked = await meetings.get(urlsplit(link).path)
        assert clicked.status_code == 302
        assert clicked.headers["location"] == "https://us02web.zoom.us/w/85746065432?tk=own"
        assert registrants.call_count == 1


async def test_zoom_down_moves_the_meeting_to_the_fallback_every_consent_named(
    zoom_school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await zoom_session(zoom_school, apps, fallback="jitsi")
    with respx.mock(assert_all_called=False) as mock:
        token_route(mock)
        mock.post("https://api.zoom.us/v2/users/bk@sekolah.sch.id/meetings").respond(
            503, json={"code": 503, "message": "Service Unavailable"}
        )
        await zoom_school.post(
            f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, expect=200
        )
        await settle(apps)
    view = await zoom_school.get(f"/v1/sessions/{session['id']}/meeting")
    assert view["provider"] == "jitsi"
    history = await zoom_school.get(f"/v1/sessions/{session['id']}/history")
    assert ("meeting", "zoom", "jitsi") in [(h["kind"], h["from"], h["to"]) for h in history]
    # The counselor is told where the meeting is now, and why.
    told = await notifications_about(apps["notifications"], session["id"])
    [host] = [data for event, data, _ in told if event == "meeting_provisioned_host"]
    assert (host["provider"], host["moved_from"]) == ("jitsi", "zoom")
    words = render(
        "meeting_provisioned_host", host, name="Bu Rina", locale="id", timezone="Asia/Jakarta"
    )
    assert "Platform: Jitsi Meet (Zoom tidak dapat dihubungi" in words.text


async def test_no_fallback_without_consent_naming_it(
    zoom_school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await zoom_session(zoom_school, apps, fallback=None)
    await zoom_school.api.put(
        f"/v1/sessions/{session['id']}/platform",
        headers=zoom_school.auth,
        json={"provider": "zoom", "fallback_provider": "jitsi"},
    )
    with respx.mock(assert_all_called=False) as mock:
        token_route(mock)
        mock.post("https://api.zoom.us/v2/users/bk@sekolah.sch.id/meetings").respond(503)
        await zoom_school.post(
            f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, expect=200
        )
        await settle(apps)
    assert (await zoom_school.get(f"/v1/sessions/{session['id']}"))["meeting"] is None
