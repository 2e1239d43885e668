"""Workers claim deliveries with leases: two at once never send the same message twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.util import await_only
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery, Notification
from services.notifications.worker import CLAIM, Worker
from shared.timeutil import as_utc, utcnow
from tests.notifications.support import (
    Accept,
    SmtpServer,
    deliveries_of,
    notification_body,
    recipient,
)

pytestmark = pytest.mark.usefixtures("quiet_queue")

DELIVERIES = 200


async def drain(worker: Worker) -> int:
    """Run passes until the worker finds nothing due; how many it claimed in all."""
    total = 0
    while claimed := await worker.run_once():
        total += claimed
    return total


async def test_two_workers_at_once_send_each_of_200_deliveries_exactly_once(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    people = [recipient() for _ in range(DELIVERIES)]
    answer = await accept(notification_body(people))
    assert answer.status_code == 202, answer.text
    assert answer.json()["deliveries"] == DELIVERIES
    first = make_worker(smtp_server.port, worker_batch_size=25)
    second = make_worker(smtp_server.port, worker_batch_size=25)

    claimed = await asyncio.gather(drain(first), drain(second))

    ids = Counter(message["Message-ID"] for message in smtp_server.messages)
    assert [i for i, n in ids.items() if n > 1] == []  # no message went out twice
    assert len(ids) == len(smtp_server.envelopes) == DELIVERIES
    assert sum(claimed) == DELIVERIES
    addressed = sorted(rcpt for e in smtp_server.envelopes for rcpt in e.rcpt_tos)
    assert addressed == sorted(p["email"] for p in people)
    rows = await deliveries_of(apps["notifications"], answer.json()["id"])
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


SCRATCH = "claim-test:"


@pytest.fixture(autouse=True)
async def _remove_scratch_rows(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    """The hand-made rows below hold odd leases; no other test should meet them."""
    yield
    async with AsyncSession(apps["notifications"].state.engine) as db:
        made_here = col(Notification.idempotency_key).startswith(SCRATCH)
        scratch = select(Notification.id).where(made_here)
        await db.exec(delete(Delivery).where(col(Delivery.notification_id).in_(scratch)))
        await db.exec(delete(Notification).where(col(Notification.id).in_(scratch)))
        await db.commit()


async def add_delivery(db: AsyncSession, **fields: object) -> Delivery:
    notification = Notification(
        school_id=uuid.uuid4(),
        idempotency_key=f"{SCRATCH}{uuid.uuid4()}",
        event="meeting_provisioned_host",
        data={},
    )
    db.add(notification)
    await db.flush()
    values: dict[str, Any] = {
        "notification_id": notification.id,
        "school_id": notification.school_id,
        "person_id": uuid.uuid4(),
        "person_name": "Bu Rina",
        "channel": "email",
        "address": "rina@sekolah.example",
        "locale": "id",
        "timezone": "Asia/Jakarta",
        "next_attempt_at": utcnow() - timedelta(minutes=5),
        **fields,
    }
    delivery = Delivery(**values)
    db.add(delivery)
    await db.flush()
    return delivery


async def test_claim_skips_a_live_lease_and_takes_an_expired_one(apps: dict[str, FastAPI]) -> None:
    engine = apps["notifications"].state.engine
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as db:
        leased = await add_delivery(
            db, locked_until=now + timedelta(seconds=60), locked_by="worker-a"
        )
        expired = await add_delivery(
            db, locked_until=now - timedelta(seconds=1), locked_by="worker-dead"
        )
        free = await add_delivery(db)
        not_due = await add_delivery(db, next_attempt_at=now + timedelta(minutes=5))
        done = await add_delivery(db, status="sent")
        await db.commit()

    async with AsyncSession(engine, expire_on_commit=False) as db:
        ids = await CLAIM(db, now=now, lease=timedelta(seconds=120), limit=50, worker="worker-b")
        await db.commit()

    assert set(ids) == {expired.id, free.id}
    leases = await leases_of(engine, leased.id, expired.id, free.id, not_due.id, done.id)
    assert leases[expired.id] == leases[free.id] == ("worker-b", now + timedelta(seconds=120))
    assert leases[leased.id] == ("worker-a", now + timedelta(seconds=60))
    assert leases[not_due.id] == leases[done.id] == (None, None)


async def leases_of(
    engine: AsyncEngine, *ids: uuid.UUID
) -> dict[uuid.UUID, tuple[str | None, datetime | None]]:
    async with AsyncSession(engine) as db:
        rows = await db.exec(select(Delivery).where(col(Delivery.id).in_(ids)))
        return {
            r.id: (r.locked_by, as_utc(r.locked_until) if r.locked_until else None)
            for r in rows.all()
        }


async def test_a_second_claim_right_after_the_first_gets_nothing(
    apps: dict[str, FastAPI],
) -> None:
    engine = apps["notifications"].state.engine
    async with AsyncSession(engine, expire_on_commit=False) as db:
        delivery = await add_delivery(db)
        await db.commit()

    claims = []
    for worker in ("worker-a", "worker-b"):
        async with AsyncSession(engine) as db:
            claims.append(
                await CLAIM(
                    db,
                    now=utcnow(),
                    lease=timedelta(seconds=120),
                    limit=10,
                    worker=worker,
                )
            )
            await db.commit()

    assert claims == [[delivery.id], []]


async def test_a_claimer_overtaken_between_its_select_and_its_update_does_not_lease_too(
    apps: dict[str, FastAPI],
) -> None:
    """The race two workers run on SQLite, where a SELECT locks nothing: worker B leases the
    row after worker A has read it as due but before A's UPDATE. Only one may hold it."""
    engine = apps["notifications"].state.engine
    async with AsyncSession(engine, expire_on_commit=False) as db:
        delivery = await add_delivery(db)
        await db.commit()
    overtaker: list[list[Any]] = []

    async def claim(worker: str) -> list[Any]:
        async with AsyncSession(engine) as db:
            ids = await CLAIM(
                db, now=utcnow(), lease=timedelta(seconds=120), limit=10, worker=worker
            )
            await db.commit()
            return ids

    async with AsyncSession(engine) as slow:

        @event.listens_for(slow.sync_session, "do_orm_execute")
        def overtake(state: ORMExecuteState) -> None:
            if state.is_update and not overtaker:
                overtaker.append(await_only(claim("worker-b")))

        claimed_by_a = await CLAIM(
            slow, now=utcnow(), lease=timedelta(seconds=120), limit=10, worker="worker-a"
        )
        await slow.commit()

    assert overtaker, "worker B never ran between worker A's select and update"
    claims = {"worker-a": claimed_by_a, "worker-b": overtaker[0]}
    holders = [worker for worker, ids in claims.items() if delivery.id in ids]
    assert len(holders) == 1, claims
    [holder] = holders
    assert (await leases_of(engine, delivery.id))[delivery.id][0] == holder


async def test_a_leased_delivery_briefly_locked_by_another_claim_is_still_sent_at_once(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    """On PostgreSQL another worker's claim can lock a row for an instant after this worker
    leased it (its FOR UPDATE SKIP LOCKED read the row as due, then the recheck dropped it).
    The worker used to skip a locked row as another's send, and it waited out the lease:
    minutes late. It now waits for the lock and sends."""
    answer = await accept(notification_body([recipient()]))
    assert answer.status_code == 202, answer.text
    worker = make_worker(smtp_server.port)
    [delivery_id] = await worker.claim()
    engine = apps["notifications"].state.engine
    locked, release = asyncio.Event(), asyncio.Event()

    async def other_claim() -> None:
        async with AsyncSession(engine) as db:
            await db.exec(select(Delivery.id).where(Delivery.id == delivery_id).with_for_update())
            locked.set()
            await release.wait()
            await db.rollback()

    holder = asyncio.create_task(other_claim())
    await locked.wait()
    sending = asyncio.create_task(worker.deliver(delivery_id))
    await asyncio.sleep(0.2)  # the worker is at the lock now (on PostgreSQL)
    release.set()
    await asyncio.gather(holder, sending)
    await worker.connections.end_batch()

    [row] = await deliveries_of(apps["notifications"], answer.json()["id"])
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(smtp_server.envelopes) == 1
