"""A crash between a state change and the call it causes delays a meeting; it never loses or
doubles one. Real processes, SIGKILL, a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.meetings.meetings.models import Meeting
from services.notifications.notifications.models import Notification
from tests.faults.proxy import Proxy
from tests.integration.conftest import MailBox
from tests.processes import Services, base_env, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def proxy_and_services(
    tmp_path: Path,
    smtp_server: tuple[MailBox, int],
    system_database: str | None,
) -> AsyncIterator[tuple[Proxy, Services]]:
    ports = {"api": free_port(), "meetings": free_port(), "notifications": free_port()}
    proxy = Proxy(ports["meetings"])
    await proxy.start()
    env = base_env(tmp_path, ports, smtp_server[1], system_database)
    services = Services(
        tmp=tmp_path,
        env=env,
        ports=ports,
        overrides={
            "api": {
                "LINGKAR_MEETINGS_INTERNAL_URL": f"http://127.0.0.1:{proxy.port}",
                "LINGKAR_OUTBOX_LEASE_SECONDS": "2",
            }
        },
    )
    try:
        yield proxy, services
    finally:
        services.stop_all()
        await proxy.stop()


def dev_admin(services: Services) -> tuple[httpx.Client, dict[str, str]]:
    """A client of the running api with the dev school admin's token."""
    api = httpx.Client(base_url=services.url("api"), timeout=10)
    token = api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("dev-admin", "dev-secret"),
    ).json()["access_token"]
    return api, {"Authorization": f"Bearer {token}"}


async def prepare_session(services: Services) -> tuple[httpx.Client, dict[str, str], str]:
    """A session whose gate is met while still in pre_preparation; the next move provisions."""
    api, auth = dev_admin(services)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = api.post(path, json=body, headers=auth)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    counselor = post(
        "/v1/users", {"role": "counselor", "name": "Pak Budi", "email": "budi@sekolah.sch.id"}
    )
    students = [
        post(
            "/v1/users",
            {
                "role": "student",
                "name": f"Siswa {i}",
                "email": f"siswa{i}@sekolah.sch.id",
                "birth_date": "2000-03-03",
            },
        )
        for i in range(2)
    ]
    group = post(
        "/v1/groups",
        {
            "name": "G",
            "counselor_id": counselor["id"],
            "field": "personal",
            "member_ids": [s["id"] for s in students],
        },
    )
    start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    session = post(
        "/v1/sessions",
        {
            "group_id": group["id"],
            "title": "Percaya diri",
            "scheduled_start": start,
            "duration_minutes": 60,
        },
    )
    sid = session["id"]
    assert (
        api.put(
            f"/v1/sessions/{sid}/platform", json={"provider": "jitsi"}, headers=auth
        ).status_code
        == 200
    )
    assert (
        api.put(
            f"/v1/sessions/{sid}/plan",
            headers=auth,
            json={
                "topic_kind": "free",
                "topic": "Percaya diri",
                "objectives": ["Berani bicara"],
                "evaluation_plan": "UCA",
            },
        ).status_code
        == 200
    )
    post(f"/v1/sessions/{sid}/attestation", {})
    for student in students:
        await services.grant_consent(sid, student["id"])
    return api, auth, sid


async def exactly_one_of_everything(services: Services, box: MailBox, sid: str) -> None:
    """One meeting, one host message and one message per member: three emails, no more."""
    await asyncio.to_thread(box.wait_for, 3, 40.0)
    await asyncio.sleep(2.0)  # anything doubled would arrive by now
    assert len(box.messages) == 3, [m["Subject"] for m in box.messages]
    meetings = await services.query(
        "meetings", select(Meeting.id).where(Meeting.session_id == uuid.UUID(sid))
    )
    assert len(meetings) == 1
    events = await services.query(
        "notifications", select(Notification.event).where(Notification.session_id == uuid.UUID(sid))
    )
    # and each person's two reminders (24 hours and 15 minutes ahead), scheduled once
    assert sorted(events) == [
        "meeting_provisioned_host",
        "meeting_provisioned_member",
        "meeting_provisioned_member",
        *["session_reminder"] * 6,
    ]


async def test_a_crash_before_the_call_reaches_meetings_delays_but_loses_nothing(
    proxy_and_services: tuple[Proxy, Services],
    smtp_server: tuple[MailBox, int],
) -> None:
    _, services = proxy_and_services
    for service in ("notifications", "worker", "api"):
        services.start(service)  # meetings is down: the call cannot be made
    api, auth, sid = await prepare_session(services)
    moved = api.post(f"/v1/sessions/{sid}/transitions", json={"to": "preparation"}, headers=auth)
    assert moved.status_code == 200, moved.text
    await asyncio.sleep(0.5)
    services.kill("api")  # the state change is committed; the call never went out

    services.start("meetings")
    services.start("api")
    await exactly_one_of_everything(services, smtp_server[0], sid)


@pytest.mark.parametrize("killed", ["api", "meetings"])
async def test_a_crash_after_meetings_answered_makes_no_second_meeting(
    proxy_and_services: tuple[Proxy, Services],
    smtp_server: tuple[MailBox, int],
    killed: str,
) -> None:
    proxy, services = proxy_and_services
    for service in ("notifications", "worker", "meetings", "api"):
        services.start(service)
    api, auth, sid = await prepare_session(services)
    proxy.hold = True
    moved = api.post(f"/v1/sessions/{sid}/transitions", json={"to": "preparation"}, headers=auth)
    assert moved.status_code == 200, moved.text
    await asyncio.wait_for(proxy.held.wait(), timeout=20)
    # The meeting exists and the api never heard: either side dies now. Meetings dying breaks
    # the api's call, and the outbox keeps the provisioning for when it is back.
    services.kill(killed)
    made = await services.query(
        "meetings", select(Meeting.id).where(Meeting.session_id == uuid.UUID(sid))
    )
    assert len(made) == 1

    proxy.hold = False
    services.start(killed)
    await exactly_one_of_everything(services, smtp_server[0], sid)


JITSI = {"server_url": "https://meet.sekolah.sch.id"}


async def test_meetings_killed_mid_request_gives_the_caller_a_clear_503_then_works_again(
    proxy_and_services: tuple[Proxy, Services],
) -> None:
    proxy, services = proxy_and_services
    for service in ("meetings", "api"):
        services.start(service)
    api, auth = dev_admin(services)
    proxy.hold = True
    saving = asyncio.create_task(
        asyncio.to_thread(api.put, "/v1/school/providers/jitsi", json=JITSI, headers=auth)
    )
    await asyncio.wait_for(proxy.held.wait(), timeout=20)
    services.kill("meetings")
    answer = await asyncio.wait_for(saving, timeout=10)

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "try again" in answer.json()["detail"]
    proxy.hold = False
    services.start("meetings")
    # In a thread: the proxy runs on this loop, and the api's call to meetings goes through it.
    again = await asyncio.to_thread(api.put, "/v1/school/providers/jitsi", json=JITSI, headers=auth)
    assert again.status_code == 200, again.text
    listed = await asyncio.to_thread(api.get, "/v1/school/providers", headers=auth)
    accounts = listed.json()
    [jitsi] = [a for a in accounts if a["provider"] == "jitsi"]
    assert jitsi["configured"], jitsi
