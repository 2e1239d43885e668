"""What a session's people are told at one moment (their links and reminders, a new time and
the reminders that move with it) goes to the notifications service in one call, not one each."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import PERMANENT_STATUS
from services.api.sessions.calls import send_notifications
from services.api.sessions.notify import NOTIFY, NOTIFY_TOGETHER
from shared.service_client import ServiceCallFailed
from tests.api.test_provisioning_races import settle
from tests.factories import SchoolKit, notifications_about
from tests.notifications.test_session_calendar import provisioned_session


async def calls_to_notifications(app: FastAPI, session_id: str) -> list[OutboxMessage]:
    """The api's calls to the notifications service about the session, oldest first."""
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(OutboxMessage)
            .where(OutboxMessage.lane == f"notifications:{session_id}")
            .order_by(OutboxMessage.created_at)  # type: ignore[arg-type]
        )
        return list(rows.all())


def told(message: OutboxMessage) -> list[tuple[str, Any]]:
    """(event, the reminder's kind) of each notification a call carried."""
    carried = (
        message.payload["notifications"] if message.kind == NOTIFY_TOGETHER else [message.payload]
    )
    return [(n["event"], n["data"].get("reminder")) for n in carried]


async def test_the_links_and_reminders_of_a_provisioning_go_in_one_call(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2), members=2)

    calls = await calls_to_notifications(apps["api"], session["id"])

    provisioning = [c for c in calls if c.kind == NOTIFY_TOGETHER]
    assert len(provisioning) == 1, [(c.kind, told(c)) for c in calls]
    [call] = provisioning
    assert call.status == "done"
    # Each member's link and two reminders, then the counselor's, in the order they were made.
    member = [
        ("meeting_provisioned_member", None),
        ("session_reminder", "24h"),
        ("session_reminder", "15m"),
    ]
    host = [
        ("meeting_provisioned_host", None),
        ("session_reminder", "24h"),
        ("session_reminder", "15m"),
    ]
    assert told(call) == member * 2 + host
    assert not [c for c in calls if c.kind == NOTIFY and told(c)[0][0].startswith("meeting_")]
    stored = await notifications_about(apps["notifications"], session["id"])
    assert sorted(e for e, _, _ in stored) == sorted(e for e, _ in told(call))


async def test_a_new_time_and_the_moved_reminders_go_in_one_call(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await provisioned_session(school, apps, starts_in=timedelta(days=2), members=2)
    before = len(await calls_to_notifications(apps["api"], session["id"]))

    moved = await school.api.patch(
        f"/v1/sessions/{session['id']}",
        headers=school.auth,
        json={"scheduled_start": (session["start"] + timedelta(days=1)).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    await settle(apps)

    calls = (await calls_to_notifications(apps["api"], session["id"]))[before:]
    # The old time's reminders called off first, then everyone told, in one call.
    assert [c.kind for c in calls] == ["notifications.cancel", NOTIFY_TOGETHER], calls
    assert all(c.status == "done" for c in calls)
    assert [e for e, _ in told(calls[1])] == [
        "session_rescheduled",
        "session_reminder",
        "session_reminder",
    ] * 3


class Refusing:
    """A service client whose every call is answered with `status`."""

    def __init__(self, status: int) -> None:
        self.status = status

    async def post(self, target: str, url: str, **_: Any) -> Any:
        raise ServiceCallFailed(target, f"HTTP {self.status}", status=self.status)


@pytest.mark.parametrize(("status", "given_up"), [(404, False), (405, False), (422, True)])
async def test_a_notifications_service_without_the_batch_route_is_tried_again_later(
    status: int, given_up: bool, apps: dict[str, FastAPI]
) -> None:
    """Mid-deploy, an older notifications service answers 404: the batch waits, as in an
    outage, instead of going dead with everyone's links; a refusal of the batch itself stays
    final."""
    state = SimpleNamespace(settings=apps["api"].state.settings, service_client=Refusing(status))
    message = OutboxMessage(
        school_id=uuid.uuid4(),
        kind=NOTIFY_TOGETHER,
        idempotency_key="together:test",
        payload={"notifications": []},
    )

    with pytest.raises(ServiceCallFailed) as failed:
        await send_notifications(message, state)

    assert (failed.value.status in PERMANENT_STATUS) is given_up
