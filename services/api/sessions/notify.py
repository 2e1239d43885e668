"""Telling people about a session: notification requests, put in the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.sessions.models import GuidanceSession
from services.api.users.models import User
from shared.contracts.notifications import Event, Locale, NotificationRequest, Recipient
from shared.timeutil import as_utc

NOTIFY = "notifications.send"


def recipient(user: User) -> Recipient:
    return Recipient(
        person_id=user.id,
        name=user.name,
        email=user.email,
        telegram_chat_id=user.telegram_chat_id,
        phone=user.phone,
        locale=Locale(user.locale),
        timezone=user.timezone,
    )


def session_data(session: GuidanceSession, **extra: Any) -> dict[str, Any]:
    return {
        "session_title": session.title,
        "scheduled_start": as_utc(session.scheduled_start).isoformat(),
        "duration_minutes": session.duration_minutes,
        "provider": session.platform,
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
) -> None:
    """One notification to these people, sent once whatever is retried (`key` is its identity)."""
    reachable = [u for u in to if u.email or u.telegram_chat_id or u.phone]
    if not reachable:
        return
    request = NotificationRequest(
        idempotency_key=key,
        school_id=session.school_id,
        session_id=session.id,
        event=event,
        recipients=[recipient(u) for u in reachable],
        data=data,
        deliver_after=deliver_after,
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=NOTIFY,
        idempotency_key=key,
        payload=request.model_dump(mode="json"),
    )
