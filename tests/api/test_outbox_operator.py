"""An operator frees a lane held by a failing call: sees it, has it tried now, or gives it up."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import operator
from services.api.outbox.models import OutboxMessage
from services.api.sessions.notify import NOTIFY
from shared.problems import Conflict, NotFound
from shared.timeutil import utcnow
from tests.api.test_provisioning_races import settle
from tests.factories import SchoolKit
from tests.notifications.support import notification_body
from tests.operator_cli import run_cli


@pytest.fixture
async def made(apps: dict[str, FastAPI]) -> AsyncIterator[list[OutboxMessage]]:
    """The messages a test made, removed afterwards: a held lane left in the shared database
    would keep other tests' `settle` waiting for it."""
    messages: list[OutboxMessage] = []
    yield messages
    async with AsyncSession(apps["api"].state.engine) as db:
        await db.exec(
            delete(OutboxMessage).where(col(OutboxMessage.id).in_([m.id for m in messages]))
        )
        await db.commit()


def notify_message(
    school: SchoolKit, *, session_id: str | None, lane: str | None, **fields: Any
) -> OutboxMessage:
    """A notifications call of the outbox, as the api enqueues one."""
    body = notification_body(school_id=str(school.school_id), session_id=session_id)
    return OutboxMessage(
        school_id=school.school_id,
        kind=NOTIFY,
        idempotency_key=body["idempotency_key"],
        payload=body,
        lane=lane,
        **fields,
    )


async def held_lane(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> list[OutboxMessage]:
    """A session's lane to notifications: its first call failing (three tries, the next in an
    hour), two more waiting behind it."""
    session_id = str(uuid.uuid4())
    now = utcnow()
    messages = []
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        for n in range(3):
            message = notify_message(
                school,
                session_id=session_id,
                lane=f"notifications:{session_id}",
                created_at=now + timedelta(milliseconds=n),
            )
            if n == 0:
                message.attempts, message.last_error = 3, "notifications: HTTP 503"
                message.next_attempt_at = now + timedelta(hours=1)
            db.add(message)
            messages.append(message)
        await db.commit()
    made.extend(messages)
    # The relay takes nothing of the lane: its first call is not due, the others wait for it.
    await apps["api"].state.outbox_relay.drain_once()
    assert await statuses(apps, messages) == ["pending"] * 3
    return messages


async def statuses(apps: dict[str, FastAPI], messages: list[OutboxMessage]) -> list[str]:
    async with AsyncSession(apps["api"].state.engine) as db:
        return [(await db.get(OutboxMessage, m.id)).status for m in messages]  # type: ignore[union-attr]


async def act(apps: dict[str, FastAPI], do: Any) -> Any:
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        result = await do(db)
        await db.commit()
        return result


async def test_the_held_lane_is_listed_with_what_waits_behind_its_first_call(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> None:
    first, *behind = await held_lane(apps, school, made)
    # Not behind it: a later call of another lane, and a later call of its lane already done.
    later = utcnow() + timedelta(seconds=1)
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        other = str(uuid.uuid4())
        for message in (
            notify_message(
                school, session_id=other, lane=f"notifications:{other}", created_at=later
            ),
            notify_message(school, session_id=None, lane=first.lane, created_at=later),
        ):
            db.add(message)
            made.append(message)
        made[-1].status = "done"
        await db.commit()

    listed = await act(apps, lambda db: operator.held(db))

    mine = [h for h in listed if h["id"] == str(first.id)]
    assert len(mine) == 1, listed
    assert mine[0]["attempts"] == 3 and mine[0]["waiting_behind"] == 2
    assert mine[0]["last_error"] == "notifications: HTTP 503"
    assert {h["id"] for h in listed}.isdisjoint({str(m.id) for m in behind})  # never tried


async def test_a_failing_call_of_no_lane_holds_nothing_back(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> None:
    """NULL lanes are not one lane: the other failing calls without one are not behind it."""
    now = utcnow()
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        for n in range(2):
            message = notify_message(
                school,
                session_id=None,
                lane=None,
                created_at=now + timedelta(milliseconds=n),
                attempts=1,
                next_attempt_at=now + timedelta(hours=1),
            )
            db.add(message)
            made.append(message)
        await db.commit()

    listed = await act(apps, lambda db: operator.held(db))

    mine = {h["id"]: h["waiting_behind"] for h in listed if h["id"] in {str(m.id) for m in made}}
    assert mine == {str(m.id): 0 for m in made}


async def test_tried_again_now_the_first_call_goes_and_the_lane_follows(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> None:
    messages = await held_lane(apps, school, made)

    retried = await act(apps, lambda db: operator.retry_now(db, messages[0].id))
    await settle(apps)

    assert datetime.fromisoformat(retried["next_attempt_at"]) <= utcnow()
    assert await statuses(apps, messages) == ["done"] * 3


async def test_given_up_the_first_call_is_dead_with_the_reason_and_the_lane_moves_on(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> None:
    messages = await held_lane(apps, school, made)

    given_up = await act(
        apps, lambda db: operator.give_up(db, messages[0].id, reason="the school left")
    )
    await settle(apps)

    assert given_up["status"] == "dead"
    assert given_up["last_error"] == "given up by the operator: the school left"
    assert await statuses(apps, messages) == ["dead", "done", "done"]


async def test_what_is_not_pending_or_is_being_delivered_is_not_given_up(
    apps: dict[str, FastAPI], school: SchoolKit, made: list[OutboxMessage]
) -> None:
    messages = await held_lane(apps, school, made)
    async with AsyncSession(apps["api"].state.engine) as db:
        leased = await db.get(OutboxMessage, messages[0].id)
        assert leased is not None
        leased.locked_until, leased.locked_by = utcnow() + timedelta(seconds=60), "relay-x"
        db.add(leased)
        await db.commit()

    with pytest.raises(Conflict, match="being delivered right now"):
        await act(apps, lambda db: operator.give_up(db, messages[0].id, reason="x"))
    with pytest.raises(NotFound):
        await act(apps, lambda db: operator.retry_now(db, uuid.uuid4()))
    await act(apps, lambda db: operator.give_up(db, messages[1].id, reason="not needed"))
    with pytest.raises(Conflict, match="is dead, not pending"):
        await act(apps, lambda db: operator.retry_now(db, messages[1].id))
    assert await statuses(apps, messages) == ["pending", "dead", "pending"]


async def test_the_outbox_commands_print_json_and_refuse_on_stderr(
    apps: dict[str, FastAPI],
    school: SchoolKit,
    made: list[OutboxMessage],
    production_env: dict[str, str],
) -> None:
    first, *_ = await held_lane(apps, school, made)

    listed = await asyncio.to_thread(run_cli, "outbox", "held", env=production_env)
    assert listed.returncode == 0, listed.stderr
    [mine] = [h for h in json.loads(listed.stdout) if h["id"] == str(first.id)]
    assert mine["waiting_behind"] == 2

    given_up = await asyncio.to_thread(
        run_cli, "outbox", "give-up", str(first.id), "--reason", "gone", env=production_env
    )
    assert given_up.returncode == 0, given_up.stderr
    assert json.loads(given_up.stdout)["status"] == "dead"
    again = await asyncio.to_thread(
        run_cli, "outbox", "give-up", str(first.id), "--reason", "gone", env=production_env
    )
    assert again.returncode == 1
    assert f"refused: outbox message {first.id} is dead, not pending" in again.stderr
