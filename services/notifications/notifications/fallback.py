"""When a delivery will not reach its person: the next channel, and a word to the counselor.

A delivery that gives up (its channel's last try, an unreachable address, a WhatsApp message
that failed after it was sent) hands over to the person's next channel in their order. An
unreachable address is recorded once, and only that first time is the counselor told, so a
person who blocked the bot costs one report, however many messages follow.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection

from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.contacts import service as contacts
from services.notifications.notifications import service
from services.notifications.notifications.models import Delivery, Notification
from shared.contracts.notifications import Event, NotificationRequest, Recipient
from shared.problems import DomainError

log = logging.getLogger("lingkar.notifications.fallback")


async def give_up(
    *,
    db: AsyncSession,
    delivery: Delivery,
    notification: Notification,
    status: str,
    reason: str,
    unreachable: bool,
    unconfigured: Collection[str],
) -> Delivery | None:
    """End the delivery with `status`, and answer the delivery on the next channel, if any.

    `unconfigured`: the channels this deployment has not set up, last in the counselor's order
    when they are told (`service.channels_for`)."""
    delivery.status, delivery.last_error, delivery.locked_until = status, reason[:500], None
    db.add(delivery)
    newly_unreachable = unreachable and await contacts.record(
        db=db, delivery=delivery, reason=reason
    )
    following = await next_channel(db=db, delivery=delivery, notification=notification)
    if newly_unreachable:
        await report(
            db=db,
            delivery=delivery,
            notification=notification,
            following=following,
            unconfigured=unconfigured,
        )
    return following


async def next_channel(
    *, db: AsyncSession, delivery: Delivery, notification: Notification
) -> Delivery | None:
    """A new pending delivery on the person's next reachable channel (None when none is left)."""
    if notification.cancelled_at is not None:
        return None
    known = (await contacts.unreachable_for(db=db, person_ids=[delivery.person_id]))[
        delivery.person_id
    ]
    left = [(c, a) for c, a in delivery.fallbacks if (c, a) not in known]
    if not left:
        return None
    (channel, address), rest = left[0], left[1:]
    following = Delivery(
        notification_id=delivery.notification_id,
        school_id=delivery.school_id,
        person_id=delivery.person_id,
        person_name=delivery.person_name,
        channel=channel,
        address=address,
        locale=delivery.locale,
        timezone=delivery.timezone,
        fallbacks=[list(pair) for pair in rest],
    )
    db.add(following)
    await db.flush()
    return following


async def report(
    *,
    db: AsyncSession,
    delivery: Delivery,
    notification: Notification,
    following: Delivery | None,
    unconfigured: Collection[str],
) -> None:
    """Tell the session's counselor that this person cannot be reached on this address."""
    if notification.report_to is None:
        return
    fingerprint = hashlib.sha256(delivery.address.encode()).hexdigest()[:16]
    request = NotificationRequest(
        idempotency_key=f"contact-unreachable:{delivery.person_id}:{delivery.channel}:{fingerprint}",
        school_id=notification.school_id,
        session_id=notification.session_id,
        event=Event.contact_unreachable,
        recipients=[Recipient.model_validate(notification.report_to)],
        data={
            "session_title": notification.data.get("session_title", ""),
            "scheduled_start": notification.data.get("scheduled_start"),
            "person_name": delivery.person_name,
            "channel": delivery.channel,
            "fallback_channel": following.channel if following else None,
        },
    )
    try:
        await service.accept(db=db, request=request, unconfigured=unconfigured)
    except DomainError as exc:  # the counselor has no channel either; the status still says it
        log.warning("unreachable contact not reported", extra={"reason": exc.detail})
