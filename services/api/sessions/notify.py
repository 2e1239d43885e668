"""Telling people about a session: notification requests, put in the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.sessions.models import GuidanceSession
from services.api.users.models import User
from shared.contracts.notifications import (
    BATCH_MAX,
    ChannelName,
    Event,
    Locale,
    NotificationBatch,
    NotificationRequest,
    Recipient,
)
from shared.timeutil import as_utc

NOTIFY = "notifications.send"
NOTIFY_TOGETHER = "notifications.send_batch"


class Together:
    """Notifications made at one moment (each member's link and reminders, the counselor's),
    sent in one call: one outbox message and one delivery by the relay for all of them instead
    of one each. Each keeps its own key, so the notifications service still takes each once."""

    def __init__(self) -> None:
        self.requests: list[NotificationRequest] = []


def recipient(user: User) -> Recipient:
    return Recipient(
        person_id=user.id,
        name=user.name,
        email=user.email,
        telegram_chat_id=user.telegram_chat_id,
        phone=user.phone,
        locale=Locale(user.locale),
        timezone=user.timezone,
        channels=[ChannelName(c) for c in user.channels] if user.channels else None,
        opt_out_non_essential=user.opt_out_non_essential,
    )


def session_data(session: GuidanceSession, **extra: Any) -> dict[str, Any]:
    # Where the meeting is: the chosen platform, or the fallback it moved to when the chosen
    # one was down (and then people are told which one was down).
    provider = session.meeting_provider or session.platform
    moved = {"moved_from": session.platform} if provider != session.platform else {}
    return {
        "session_title": session.title,
        "scheduled_start": as_utc(session.scheduled_start).isoformat(),
        "duration_minutes": session.duration_minutes,
        "provider": provider,
        **moved,
        "schedule_sequence": session.schedule_sequence,
        **extra,
    }


def organizer(counselor: User) -> dict[str, Any]:
    """Who a calendar invite names as its organizer: the session's counselor."""
    return {"organizer_name": counselor.name, "organizer_email": counselor.email}


async def send(
    *,
    db: AsyncSession,
    session: GuidanceSession,
    event: Event,
    to: Sequence[User],
    key: str,
    data: dict[str, Any],
    deliver_after: datetime | None = None,
    together: Together | None = None,
) -> None:
    """One notification to these people, sent once whatever is retried (`key` is its identity);
    with `together`, kept there for `send_together`.

    Everyone is told, whether or not they have an address: it is in their in-app inbox even
    when no channel can carry it (students who use the school's app often have none)."""
    if not to:
        return
    # The counselor hears when someone of the session cannot be reached on a channel.
    counselor = await db.get(User, session.counselor_id)
    request = NotificationRequest(
        idempotency_key=key,
        school_id=session.school_id,
        session_id=session.id,
        event=event,
        recipients=[recipient(u) for u in to],
        data=data,
        deliver_after=deliver_after,
        report_to=recipient(counselor) if counselor else None,
    )
    if together is not None:
        together.requests.append(request)
        return
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=NOTIFY,
        idempotency_key=key,
        payload=request.model_dump(mode="json"),
    )


async def send_together(*, db: AsyncSession, session: GuidanceSession, together: Together) -> None:
    """What `together` holds, in calls of up to `BATCH_MAX`, in the order it was made."""
    requests = together.requests
    for start in range(0, len(requests), BATCH_MAX):
        part = requests[start : start + BATCH_MAX]
        keys = "\n".join(r.idempotency_key for r in part)
        await outbox.enqueue(
            db=db,
            school_id=session.school_id,
            session_id=session.id,
            kind=NOTIFY_TOGETHER,
            # Made again (a retried admission), the same requests make the same key.
            idempotency_key=f"together:{hashlib.sha256(keys.encode()).hexdigest()}",
            payload=NotificationBatch(notifications=part).model_dump(mode="json"),
        )
    together.requests = []
