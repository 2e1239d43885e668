"""Accepting notification requests: stored with their deliveries before the 202 answer."""

from __future__ import annotations

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.inbox import service as inbox
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.webhooks import service as webhooks_service
from shared.contracts.notifications import NotificationAccepted, NotificationRequest, Recipient
from shared.problems import Conflict, InvalidInput
from shared.timeutil import utcnow


def channels_for(recipient: Recipient) -> list[tuple[str, str]]:
    """The (channel, address) pairs a person can be reached on, in order of preference."""
    found = []
    if recipient.email:
        found.append(("email", recipient.email))
    return found


async def accept(*, db: AsyncSession, request: NotificationRequest) -> NotificationAccepted:
    existing = (
        await db.exec(
            select(Notification).where(Notification.idempotency_key == request.idempotency_key)
        )
    ).first()
    if existing:
        if existing.event != request.event.value or existing.school_id != request.school_id:
            raise Conflict("this idempotency key was used for a different notification")
        count = (
            await db.exec(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.notification_id == existing.id)
            )
        ).one()
        return NotificationAccepted(id=existing.id, status="accepted", deliveries=count)
    notification = Notification(
        school_id=request.school_id,
        session_id=request.session_id,
        idempotency_key=request.idempotency_key,
        event=request.event.value,
        data=request.data,
        deliver_after=request.deliver_after,
    )
    db.add(notification)
    await db.flush()
    deliveries = [
        Delivery(
            notification_id=notification.id,
            school_id=request.school_id,
            person_id=r.person_id,
            person_name=r.name,
            channel=channel,
            address=address,
            locale=r.locale.value,
            timezone=r.timezone,
            # A scheduled send (a follow-up, a reminder) is simply not due before its time.
            next_attempt_at=request.deliver_after or utcnow(),
        )
        for r in request.recipients
        for channel, address in channels_for(r)[:1]
    ]
    if not deliveries:
        raise InvalidInput("recipients", "no recipient has a channel Lingkar can reach")
    db.add_all(deliveries)
    await db.flush()
    await inbox.add_items(db=db, notification=notification, recipients=request.recipients)
    await webhooks_service.announce(
        db=db, notification=notification, recipient_ids=[r.person_id for r in request.recipients]
    )
    return NotificationAccepted(id=notification.id, status="accepted", deliveries=len(deliveries))
