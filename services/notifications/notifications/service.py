"""Accepting notification requests: stored with their deliveries before the 202 answer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.contacts import service as contacts
from services.notifications.inbox import service as inbox
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.webhooks import service as webhooks_service
from shared.contracts.notifications import (
    DEFAULT_CHANNEL_ORDER,
    NotificationAccepted,
    NotificationRequest,
    Recipient,
    is_essential,
)
from shared.db import serialize
from shared.problems import Conflict
from shared.timeutil import utcnow

OPTED_OUT = "the person opted out of non-essential messages"
ALL_UNREACHABLE = "every address of this person is known to be unreachable"


def channels_for(
    recipient: Recipient,
    unreachable: Collection[tuple[str, str]] = (),
    unconfigured: Collection[str] = (),
) -> list[tuple[str, str]]:
    """The (channel, address) pairs to try, in the person's order (or the default one),
    without channels they have no address for and addresses known to be unreachable.

    Channels the deployment has not set up come last: tried only when nothing else is left,
    where their failure ("not configured") tells the operator what is missing."""
    addresses = {
        "telegram": recipient.telegram_chat_id,
        "whatsapp": recipient.phone,
        "email": recipient.email,
    }
    order = dict.fromkeys(recipient.channels or DEFAULT_CHANNEL_ORDER)  # once each, in order
    pairs = [
        (channel.value, address)
        for channel in order
        if (address := addresses[channel.value]) and (channel.value, address) not in unreachable
    ]
    return sorted(pairs, key=lambda pair: pair[0] in unconfigured)  # stable: order kept


def delivery_for(
    recipient: Recipient,
    *,
    notification: Notification,
    unreachable: Collection[tuple[str, str]],
    due: datetime,
    unconfigured: Collection[str] = (),
) -> Delivery | None:
    """The person's delivery: pending on their first channel with the rest to fall back on,
    or, ended at once and saying why, when they opted out or cannot be reached at all."""
    reachable = channels_for(recipient, unreachable, unconfigured)
    every = channels_for(recipient, unconfigured=unconfigured)
    if not every:
        return None
    status, error = "pending", None
    if recipient.opt_out_non_essential and not is_essential(notification.event):
        status, error = "opted_out", OPTED_OUT
    elif not reachable:
        status, error = "unreachable", ALL_UNREACHABLE
    (channel, address), *rest = reachable or every
    return Delivery(
        notification_id=notification.id,
        school_id=notification.school_id,
        person_id=recipient.person_id,
        person_name=recipient.name,
        channel=channel,
        address=address,
        locale=recipient.locale.value,
        timezone=recipient.timezone,
        status=status,
        last_error=error,
        fallbacks=[list(pair) for pair in rest] if status == "pending" else [],
        # A scheduled send (a follow-up, a reminder) is simply not due before its time.
        next_attempt_at=due,
    )


async def accept_many(
    *,
    db: AsyncSession,
    requests: Sequence[NotificationRequest],
    unconfigured: Collection[str] = (),
) -> list[NotificationAccepted]:
    """Each request as `accept` takes it, in the order given, on one transaction."""
    # The keys locked in one order whatever the batch's, so two batches sharing keys (a retry
    # beside its original) never wait for each other in a circle.
    for key in sorted({r.idempotency_key for r in requests}):
        await serialize(db, f"notification:{key}")
    accepted = []
    for n, request in enumerate(requests):
        try:
            accepted.append(await _accept_locked(db, request, unconfigured))
        except Conflict as exc:
            # Which one, by place: the key itself can carry part of a member's link.
            raise Conflict(f"notifications[{n}]: {exc.detail}") from exc
    return accepted


async def accept(
    *, db: AsyncSession, request: NotificationRequest, unconfigured: Collection[str] = ()
) -> NotificationAccepted:
    # The same request twice at once (a retry racing its original): the second waits for the
    # first to commit and then answers what it made, instead of failing on the unique key.
    await serialize(db, f"notification:{request.idempotency_key}")
    return await _accept_locked(db, request, unconfigured)


async def _accept_locked(
    db: AsyncSession, request: NotificationRequest, unconfigured: Collection[str]
) -> NotificationAccepted:
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
        report_to=request.report_to.model_dump(mode="json") if request.report_to else None,
    )
    db.add(notification)
    await db.flush()
    unreachable = await contacts.unreachable_for(
        db=db, person_ids={r.person_id for r in request.recipients}
    )
    planned = (
        delivery_for(
            r,
            notification=notification,
            unreachable=unreachable.get(r.person_id, set()),
            due=request.deliver_after or utcnow(),
            unconfigured=unconfigured,
        )
        for r in request.recipients
    )
    # Someone with no address at all gets no delivery, only the inbox item below.
    deliveries = [d for d in planned if d is not None]
    db.add_all(deliveries)
    await db.flush()
    await inbox.add_items(db=db, notification=notification, recipients=request.recipients)
    await webhooks_service.announce(
        db=db, notification=notification, recipient_ids=[r.person_id for r in request.recipients]
    )
    return NotificationAccepted(id=notification.id, status="accepted", deliveries=len(deliveries))
