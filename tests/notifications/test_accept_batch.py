"""Accepting several notifications in one call: each stored as alone, once per key, all or none."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Notification
from shared.contracts.notifications import BATCH_MAX
from tests.notifications.support import Accept, deliveries_of, notification_body, recipient


async def stored(app: FastAPI, keys: list[str]) -> dict[str, Notification]:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        query = select(Notification).where(col(Notification.idempotency_key).in_(keys))
        rows = await db.exec(query)
        return {n.idempotency_key: n for n in rows.all()}


def three_for_one_session() -> list[dict[str, Any]]:
    school, session = str(uuid.uuid4()), str(uuid.uuid4())
    return [
        notification_body([recipient(), recipient()], school_id=school, session_id=session),
        notification_body([recipient()], school_id=school, session_id=session),
        notification_body([recipient()], school_id=school, session_id=session),
    ]


async def test_each_of_a_batch_is_stored_with_its_deliveries_answered_in_order(
    accept_batch: Accept, apps: dict[str, FastAPI]
) -> None:
    batch = three_for_one_session()

    answer = await accept_batch({"notifications": batch})

    assert answer.status_code == 202, answer.text
    accepted = answer.json()["accepted"]
    kept = await stored(apps["notifications"], [b["idempotency_key"] for b in batch])
    assert [a["id"] for a in accepted] == [str(kept[b["idempotency_key"]].id) for b in batch]
    assert [a["deliveries"] for a in accepted] == [2, 1, 1]
    for a in accepted:
        assert len(await deliveries_of(apps["notifications"], a["id"])) == a["deliveries"]


async def test_a_batch_again_and_a_request_of_it_alone_make_nothing_new(
    accept: Accept, accept_batch: Accept, apps: dict[str, FastAPI]
) -> None:
    batch = three_for_one_session()
    first = await accept_batch({"notifications": batch})

    again = await asyncio.gather(*(accept_batch({"notifications": batch}) for _ in range(3)))
    alone = await accept(batch[1])

    assert [a.status_code for a in again] == [202] * 3, [a.text for a in again]
    assert all(a.json() == first.json() for a in again)
    assert alone.json()["id"] == first.json()["accepted"][1]["id"]
    assert len(await stored(apps["notifications"], [b["idempotency_key"] for b in batch])) == 3
    assert len(await deliveries_of(apps["notifications"], alone.json()["id"])) == 1


async def test_a_key_used_for_another_notification_refuses_the_whole_batch(
    accept: Accept, accept_batch: Accept, apps: dict[str, FastAPI]
) -> None:
    batch = three_for_one_session()
    earlier = {**batch[2], "event": "session_cancelled"}  # the same key, another event
    assert (await accept(earlier)).status_code == 202

    answer = await accept_batch({"notifications": batch})

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail = answer.json()["detail"]
    assert "notifications[2]" in detail and "idempotency key" in detail
    assert batch[2]["idempotency_key"] not in detail  # a key can hold the end of a link
    kept = await stored(apps["notifications"], [b["idempotency_key"] for b in batch])
    assert list(kept) == [batch[2]["idempotency_key"]]  # only the earlier one: none of the batch
    assert kept[batch[2]["idempotency_key"]].event == "session_cancelled"


async def test_an_empty_or_oversized_batch_is_a_422_naming_the_field(accept_batch: Accept) -> None:
    empty = await accept_batch({"notifications": []})
    oversized = await accept_batch({"notifications": [notification_body()] * (BATCH_MAX + 1)})

    for answer in (empty, oversized):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "notifications" in answer.text


async def test_a_batch_needs_a_service_token_addressed_to_notifications(
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
    apps: dict[str, FastAPI],
) -> None:
    batch = three_for_one_session()
    for auth in ({}, {"Authorization": f"Bearer {service_token('meetings')}"}):
        answer = await notifications.post(
            "/internal/v1/notifications/batch", json={"notifications": batch}, headers=auth
        )

        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert await stored(apps["notifications"], [b["idempotency_key"] for b in batch]) == {}
