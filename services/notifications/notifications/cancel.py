"""Calling off scheduled notifications: a session's reminders when it moves, is cancelled, or a
member withdraws. What is already sent stays sent; what is pending will not go out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Cancellation, Delivery, Notification
from shared.contracts.notifications import CancellationDone, ScheduledCancellation
from shared.db import serialize
from shared.problems import Conflict
from shared.timeutil import utcnow


def sequence_of(notification: Notification) -> int:
    """The schedule sequence a notification was written for (0 before there was one)."""
    return sequence_in(notification.data)


def sequence_in(data: dict[str, Any]) -> int:
    """`sequence_of` for a notification's data alone (read without the rest of its row)."""
    return int(data.get("schedule_sequence") or 0)


async def cancel_scheduled(*, db: AsyncSession, request: ScheduledCancellation) -> CancellationDone:
    """Call off the matching scheduled notifications once; a repeat answers the first result."""
    # The same call-off twice at once: the second waits for the first and answers its result.
    await serialize(db, f"cancellation:{request.idempotency_key}")
    done = (
        await db.exec(
            select(Cancellation).where(Cancellation.idempotency_key == request.idempotency_key)
        )
    ).first()
    if done is not None:
        if done.school_id != request.school_id or done.session_id != request.session_id:
            raise Conflict("this idempotency key was used for a different cancellation")
        return CancellationDone(notifications=done.notifications, deliveries=done.deliveries)
    chosen = [
        n
        for n in await _scheduled(db, request)
        if request.below_sequence is None or sequence_of(n) < request.below_sequence
    ]
    deliveries = 0
    touched = 0
    for notification in chosen:
        called_off = await call_off(db=db, notification=notification, people=request.person_ids)
        deliveries += called_off
        touched += 1 if called_off else 0
    db.add(
        Cancellation(
            idempotency_key=request.idempotency_key,
            school_id=request.school_id,
            session_id=request.session_id,
            notifications=touched,
            deliveries=deliveries,
        )
    )
    await db.flush()
    return CancellationDone(notifications=touched, deliveries=deliveries)


async def _scheduled(db: AsyncSession, request: ScheduledCancellation) -> list[Notification]:
    rows = await db.exec(
        select(Notification).where(
            Notification.school_id == request.school_id,
            Notification.session_id == request.session_id,
            col(Notification.event).in_([e.value for e in request.events]),
            col(Notification.deliver_after).is_not(None),
            col(Notification.cancelled_at).is_(None),
        )
    )
    return list(rows.all())


async def call_off(
    *,
    db: AsyncSession,
    notification: Notification,
    people: list[uuid.UUID] | None = None,
    now: datetime | None = None,
) -> int:
    """Cancel the notification's pending deliveries (to these people); how many were."""
    where: list[Any] = [
        col(Delivery.notification_id) == notification.id,
        col(Delivery.status) == "pending",
    ]
    if people is not None:
        where.append(col(Delivery.person_id).in_(people))
    result = await db.exec(
        update(Delivery)
        .where(*where)
        .values(status="cancelled", locked_until=None)
        .returning(col(Delivery.id))
    )
    count = len(result.scalars().all())
    left = (
        await db.exec(
            select(Delivery.id).where(
                Delivery.notification_id == notification.id, Delivery.status != "cancelled"
            )
        )
    ).first()
    if left is None:
        # Nobody is to hear it any more: it leaves the inboxes too.
        notification.cancelled_at = now or utcnow()
        db.add(notification)
    return count
