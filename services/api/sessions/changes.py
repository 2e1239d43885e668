"""What follows a change of schedule or stage: the provider's meeting and the people involved.

Rescheduling updates the provider's meeting and tells everyone (and, since the date decides who
is a minor, re-checks the gate); cancelling deletes the meeting; completing schedules the
counselor's follow-ups.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.sessions import notify, provisioning, reminders
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import User
from shared.contracts.notifications import Event
from shared.timeutil import utcnow

FOLLOW_UPS = (("short_term", timedelta(days=7)), ("long_term", timedelta(days=30)))


async def _counselor(db: AsyncSession, session: GuidanceSession) -> User:
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None
    return counselor


async def _members(
    db: AsyncSession, session: GuidanceSession, *, with_link: bool
) -> list[tuple[User, SessionParticipant]]:
    query = (
        select(User, SessionParticipant)
        .join(SessionParticipant, col(SessionParticipant.student_id) == User.id)
        .where(SessionParticipant.session_id == session.id)
    )
    if with_link:
        query = query.where(col(SessionParticipant.join_url).is_not(None))
    return list((await db.exec(query)).all())


async def rescheduled(*, db: AsyncSession, session: GuidanceSession, change_id: uuid.UUID) -> None:
    """Everyone hears of the new time (their invite updated), and their reminders move."""
    await provisioning.request_reschedule(db=db, session=session, because=str(change_id))
    await provisioning.reconcile(db=db, session=session)
    await reminders.supersede(db=db, session=session)
    counselor = await _counselor(db, session)
    organizer = notify.organizer(counselor)
    together = notify.Together()
    await notify.send(
        db=db,
        session=session,
        event=Event.session_rescheduled,
        to=[counselor],
        key=f"rescheduled:{change_id}:{counselor.id}",
        data=notify.session_data(session, host_url=session.meeting_host_url, **organizer),
        together=together,
    )
    if session.meeting_host_url:
        await reminders.for_counselor(
            db=db, session=session, counselor=counselor, together=together
        )
    for member, participant in await _members(db, session, with_link=True):
        await notify.send(
            db=db,
            session=session,
            event=Event.session_rescheduled,
            to=[member],
            key=f"rescheduled:{change_id}:{member.id}",
            data=notify.session_data(session, join_url=participant.join_url, **organizer),
            together=together,
        )
        await reminders.for_member(
            db=db, session=session, member=member, participant=participant, together=together
        )
    await notify.send_together(db=db, session=session, together=together)


async def cancelled(
    *, db: AsyncSession, session: GuidanceSession, reason: str, change_id: uuid.UUID
) -> None:
    """Everyone with a link hears (their invite cancelled); nothing scheduled is still sent."""
    counselor = await _counselor(db, session)
    told = [counselor] + [m for m, _ in await _members(db, session, with_link=True)]
    await reminders.supersede(
        db=db, session=session, events=(Event.session_reminder, Event.follow_up_due)
    )
    await provisioning.cancel_meetings(db=db, session=session, reason=reason)
    await notify.send(
        db=db,
        session=session,
        event=Event.session_cancelled,
        to=told,
        key=f"cancelled:{change_id}",
        data=notify.session_data(session, reason=reason, **notify.organizer(counselor)),
    )


async def completed(*, db: AsyncSession, session: GuidanceSession) -> None:
    """Remind the counselor of the follow-up evaluations, about a week and a month later."""
    counselor = await _counselor(db, session)
    names = [m.name for m, _ in await _members(db, session, with_link=False)]
    now = utcnow()
    for kind, after in FOLLOW_UPS:
        await notify.send(
            db=db,
            session=session,
            event=Event.follow_up_due,
            to=[counselor],
            key=f"follow-up:{session.id}:{kind}",
            deliver_after=now + after,
            data=notify.session_data(session, follow_up=kind, members=names),
        )
