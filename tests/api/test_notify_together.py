"""What a session's people are told at one moment (their links and reminders, a new time and
the reminders that move with it) goes to the notifications service in one call, not one each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import PERMANENT_STATUS
from services.api.sessions.calls import send_notifications
from services.api.sessions.notify import NOTIFY, NOTIFY_TOGETHER
from services.notifications.notifications.models import Notification
from shared.service_client import ServiceCallFailed
from tests.api.test_provisioning_races import settle
from tests.factories import SchoolKit, notifications_about
from tests.notifications.support import notification_body
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


@pytest.mark.parametrize("status", [404, 405])
async def test_a_notifications_service_without_the_batch_route_is_tried_again_later(
    status: int, apps: dict[str, FastAPI]
) -> None:
    """Mid-deploy, an older notifications service answers 404: the batch waits, as in an
    outage, instead of going dead with everyone's links (nor is it sent one by one: that
    would be as final as the batch)."""
    state = SimpleNamespace(settings=apps["api"].state.settings, service_client=Refusing(status))
    message = OutboxMessage(
        school_id=uuid.uuid4(),
        kind=NOTIFY_TOGETHER,
        idempotency_key="together:test",
        payload={"notifications": []},
    )

    with pytest.raises(ServiceCallFailed) as failed:
        await send_notifications(message, state)

    assert failed.value.status not in PERMANENT_STATUS


async def test_a_request_refused_for_good_dies_alone_and_the_rest_of_its_batch_is_sent(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
) -> None:
    """A batch is all or none; a request the notifications service refuses for good (here a
    key already used for other content) must not take the others' links down with it."""
    session_id = str(uuid.uuid4())
    batch = [
        notification_body(school_id=str(school.school_id), session_id=session_id) for _ in range(3)
    ]
    earlier = {**batch[1], "school_id": str(uuid.uuid4())}  # the same key, other content
    taken = await notifications.post(
        "/internal/v1/notifications",
        json=earlier,
        headers={"Authorization": f"Bearer {service_token('notifications')}"},
    )
    assert taken.status_code == 202, taken.text
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        message = OutboxMessage(
            school_id=school.school_id,
            kind=NOTIFY_TOGETHER,
            idempotency_key=f"together:{uuid.uuid4()}",
            payload={"notifications": batch},
            lane=f"notifications:{session_id}",
        )
        db.add(message)
        await db.commit()

    await settle(apps)

    async with AsyncSession(apps["api"].state.engine) as db:
        assert (await db.get(OutboxMessage, message.id)).status == "done"  # type: ignore[union-attr]
        dead = (await db.exec(select(OutboxMessage).where(OutboxMessage.status == "dead"))).all()
    assert [(d.kind, d.payload) for d in dead] == [(NOTIFY, batch[1])]
    assert "409" in (dead[0].last_error or "")
    async with AsyncSession(apps["notifications"].state.engine) as db:
        kept = {
            n.idempotency_key: n
            for n in (
                await db.exec(
                    select(Notification).where(
                        col(Notification.idempotency_key).in_([b["idempotency_key"] for b in batch])
                    )
                )
            ).all()
        }
    assert sorted(kept) == sorted(b["idempotency_key"] for b in batch)
    assert str(kept[batch[1]["idempotency_key"]].school_id) == earlier["school_id"]  # untouched


class Answering:
    """A service client answering the batch with 409, then each single call from `singles`."""

    def __init__(self, singles: list[int]) -> None:
        self.singles = singles
        self.calls: list[str] = []

    async def post(self, target: str, url: str, **_: Any) -> Any:
        self.calls.append(url.rsplit("/", 1)[-1])
        status = 409 if url.endswith("/batch") else self.singles.pop(0)
        if status >= 400:
            raise ServiceCallFailed(target, f"HTTP {status}", status=status)
        return SimpleNamespace(json=dict)


async def test_an_outage_while_the_refused_batch_goes_one_by_one_leaves_it_to_be_tried_again(
    apps: dict[str, FastAPI],
) -> None:
    client = Answering(singles=[202, 503])
    state = SimpleNamespace(settings=apps["api"].state.settings, service_client=client)
    message = OutboxMessage(
        school_id=uuid.uuid4(),
        kind=NOTIFY_TOGETHER,
        idempotency_key="together:outage",
        payload={"notifications": [notification_body() for _ in range(3)]},
    )

    with pytest.raises(ServiceCallFailed) as failed:
        await send_notifications(message, state)

    assert failed.value.status == 503 and failed.value.status not in PERMANENT_STATUS
    assert client.calls == ["batch", "notifications", "notifications"]  # stopped at the outage
