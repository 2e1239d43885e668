"""What was sent, to whom, and how each try went; dead letters and sending them again."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.deliveries.masking import mask_address, plain_error
from services.notifications.deliveries.models import DeliveryAttempt
from services.notifications.notifications.models import Delivery, Notification
from shared import cursors, queue
from shared.contracts.notifications import (
    AttemptOut,
    DeadLetter,
    DeadLetterPage,
    DeliveryOut,
    PageQuery,
    SessionNotification,
    SessionNotificationPage,
)
from shared.problems import Conflict, NotFound
from shared.timeutil import as_utc, utcnow

# What a try ended in, by the state the delivery was left in.
_OUTCOMES = {"sent": "sent", "pending": "failed"}


def attempt_values(delivery: Delivery, *, status: str | None = None) -> dict[str, Any]:
    """The record of the try the worker just made, from the state it left the delivery in
    (`status`, when the delivery object itself was not changed), as a row's values."""
    status = status or delivery.status
    return {
        "id": uuid.uuid4(),
        "delivery_id": delivery.id,
        "school_id": delivery.school_id,
        "channel": delivery.channel,
        "outcome": _OUTCOMES.get(status, status),
        "error": None if status == "sent" else plain_error(delivery.last_error),
        "at": utcnow(),
    }


async def _history(
    db: AsyncSession, deliveries: Sequence[Delivery]
) -> dict[uuid.UUID, list[AttemptOut]]:
    rows = await db.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_([d.id for d in deliveries]))
        .order_by(col(DeliveryAttempt.at), col(DeliveryAttempt.id))
    )
    found: dict[uuid.UUID, list[AttemptOut]] = defaultdict(list)
    for a in rows.all():
        found[a.delivery_id].append(AttemptOut(at=as_utc(a.at), outcome=a.outcome, error=a.error))
    return found


def _delivery_out(delivery: Delivery, history: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        person_id=delivery.person_id,
        person_name=delivery.person_name,
        channel=delivery.channel,
        address=mask_address(delivery.address),
        status=delivery.status,
        # Every try ever made, a re-sent dead letter's earlier ones included.
        attempts=len(history),
        last_error=plain_error(delivery.last_error),
        sent_at=as_utc(delivery.sent_at) if delivery.sent_at else None,
        history=history,
    )


async def session_page(
    *, db: AsyncSession, school_id: uuid.UUID, session_id: uuid.UUID, query: PageQuery
) -> SessionNotificationPage:
    """The session's notifications newest first, each with its deliveries and their tries."""
    n = Notification
    rows = await db.exec(
        select(n)
        .where(n.school_id == school_id, n.session_id == session_id)
        .where(cursors.older_than(col(n.created_at), col(n.id), query.cursor))
        .order_by(col(n.created_at).desc(), col(n.id).desc())
        .limit(query.limit + 1)
    )
    shown, next_cursor = cursors.next_page(rows.all(), query.limit, lambda r: (r.created_at, r.id))
    deliveries = await _deliveries_of(db, shown)
    items = [
        SessionNotification(
            id=x.id,
            event=x.event,
            created_at=as_utc(x.created_at),
            deliver_after=as_utc(x.deliver_after) if x.deliver_after else None,
            cancelled_at=as_utc(x.cancelled_at) if x.cancelled_at else None,
            deliveries=deliveries[x.id],
        )
        for x in shown
    ]
    return SessionNotificationPage(items=items, next_cursor=next_cursor)


async def _deliveries_of(
    db: AsyncSession, notifications: Sequence[Notification]
) -> dict[uuid.UUID, list[DeliveryOut]]:
    rows = await db.exec(
        select(Delivery)
        .where(col(Delivery.notification_id).in_([n.id for n in notifications]))
        .order_by(col(Delivery.person_name), col(Delivery.id))
    )
    deliveries = rows.all()
    history = await _history(db, deliveries)
    found: dict[uuid.UUID, list[DeliveryOut]] = defaultdict(list)
    for d in deliveries:
        found[d.notification_id].append(_delivery_out(d, history[d.id]))
    return found


async def dead_page(*, db: AsyncSession, school_id: uuid.UUID, query: PageQuery) -> DeadLetterPage:
    """The school's deliveries that gave up, newest first."""
    d = Delivery
    rows = await db.exec(
        select(d, Notification)
        .join(Notification, col(Notification.id) == col(d.notification_id))
        .where(d.school_id == school_id, d.status == "dead")
        .where(cursors.older_than(col(d.created_at), col(d.id), query.cursor))
        .order_by(col(d.created_at).desc(), col(d.id).desc())
        .limit(query.limit + 1)
    )
    shown, next_cursor = cursors.next_page(
        rows.all(), query.limit, lambda r: (r[0].created_at, r[0].id)
    )
    history = await _history(db, [delivery for delivery, _ in shown])
    items = [_dead_letter(delivery, n, history[delivery.id]) for delivery, n in shown]
    return DeadLetterPage(items=items, next_cursor=next_cursor)


def _dead_letter(
    delivery: Delivery, notification: Notification, history: list[AttemptOut]
) -> DeadLetter:
    return DeadLetter(
        **dict(_delivery_out(delivery, history)),
        notification_id=notification.id,
        event=notification.event,
        session_id=notification.session_id,
        created_at=as_utc(delivery.created_at),
    )


async def retry(*, db: AsyncSession, school_id: uuid.UUID, delivery_id: uuid.UUID) -> DeadLetter:
    """Send a dead letter again: pending at once, with a fresh run of tries; history stays."""
    found = (
        await db.exec(
            select(Delivery, Notification)
            .join(Notification, col(Notification.id) == col(Delivery.notification_id))
            .where(Delivery.id == delivery_id, Delivery.school_id == school_id)
        )
    ).first()
    if found is None:
        raise NotFound("no such delivery")
    delivery, notification = found
    if notification.cancelled_at is not None:
        raise Conflict("this notification was called off; it is not sent again")
    if queue.send_again(delivery, what="delivery", now=utcnow()):
        db.add(delivery)
        await db.flush()
    history = await _history(db, [delivery])
    return _dead_letter(delivery, notification, history[delivery.id])
