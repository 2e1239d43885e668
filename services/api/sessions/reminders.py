"""Reminders 24 hours and 15 minutes before a session, to the counselor and each member with a
link, and calling them off.

They are scheduled when the links are issued (only those still ahead, so a member cleared late
gets the 15-minute one), moved on a reschedule, dropped when the meeting is (cancel, a platform
change), and a member who withdraws gets no more. Every key holds the session's schedule
sequence and, for a member, the admission the link came from: a retried call never doubles a
reminder, and a member who consents again gets reminders of their own, not the called-off ones.

A reschedule calls off "below the new sequence" rather than "all": its call-off and the new
reminders leave the outbox together and may arrive in either order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.sessions import notify
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import User
from shared.contracts.notifications import Event, ScheduledCancellation
from shared.timeutil import as_utc, utcnow

CALL_OFF = "notifications.cancel"
AHEAD = (("24h", timedelta(hours=24)), ("15m", timedelta(minutes=15)))


async def for_counselor(
    *,
    db: AsyncSession,
    session: GuidanceSession,
    counselor: User,
    together: notify.Together | None = None,
) -> None:
    """The counselor's reminders, with the host gate link."""
    link = {"host_url": session.meeting_host_url}
    await _schedule(db, session, counselor, "host", link, together)


async def for_member(
    *,
    db: AsyncSession,
    session: GuidanceSession,
    member: User,
    participant: SessionParticipant,
    together: notify.Together | None = None,
) -> None:
    """A member's reminders, with their own gated link."""
    link = {"join_url": participant.join_url}
    await _schedule(db, session, member, f"admission-{participant.admissions}", link, together)


async def _schedule(
    db: AsyncSession,
    session: GuidanceSession,
    person: User,
    generation: str,
    link: dict[str, Any],
    together: notify.Together | None,
) -> None:
    start, now = as_utc(session.scheduled_start), utcnow()
    for kind, before in AHEAD:
        if start - before <= now:
            continue  # too late for this one
        await notify.send(
            db=db,
            session=session,
            event=Event.session_reminder,
            to=[person],
            key=f"reminder:{session.id}:{session.schedule_sequence}:{person.id}:{generation}:{kind}",
            deliver_after=start - before,
            data=notify.session_data(session, reminder=kind, **link),
            together=together,
        )


async def supersede(
    *,
    db: AsyncSession,
    session: GuidanceSession,
    events: Sequence[Event] = (Event.session_reminder,),
) -> None:
    """A new time (or none): the sequence rises and what was scheduled for the old one is off."""
    session.schedule_sequence += 1
    db.add(session)
    await _call_off(
        db,
        session,
        key=f"call-off:{session.id}:below:{session.schedule_sequence}",
        events=events,
        below_sequence=session.schedule_sequence,
    )


async def withdrawn(
    *, db: AsyncSession, session: GuidanceSession, participant: SessionParticipant
) -> None:
    """The member's link is gone: so are their reminders."""
    await _call_off(
        db,
        session,
        key=f"call-off:{session.id}:{participant.student_id}:{participant.admissions}",
        events=(Event.session_reminder,),
        person_ids=[participant.student_id],
    )


async def _call_off(
    db: AsyncSession,
    session: GuidanceSession,
    *,
    key: str,
    events: Sequence[Event],
    person_ids: list[uuid.UUID] | None = None,
    below_sequence: int | None = None,
) -> None:
    request = ScheduledCancellation(
        idempotency_key=key,
        school_id=session.school_id,
        session_id=session.id,
        events=list(events),
        person_ids=person_ids,
        below_sequence=below_sequence,
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=CALL_OFF,
        idempotency_key=key,
        payload=request.model_dump(mode="json"),
    )
