"""Telling a session's people their links, once the meetings service has issued them.

Each member gets their own link and the reminders that go with it; the first time, the
counselor gets the host link and theirs. All of it leaves in one call (`notify.Together`).
"""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.sessions import notify, reminders
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import User
from shared.contracts.meetings import JoinLink
from shared.contracts.notifications import Event


async def tell(
    db: AsyncSession,
    session: GuidanceSession,
    links: list[JoinLink],
    *,
    first: bool,
    participants: dict[uuid.UUID, SessionParticipant],
) -> None:
    """Each member their own link and reminders; the first time, the counselor theirs."""
    # Their whole records: the notification carries each person's channels and preferences.
    member_ids = [link.person_id for link in links]
    students = {
        u.id: u for u in (await db.exec(select(User).where(col(User.id).in_(member_ids)))).all()
    }
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None
    together = notify.Together()
    for link in links:
        await notify.send(
            db=db,
            session=session,
            event=Event.meeting_provisioned_member,
            to=[students[link.person_id]],
            key=f"member-link:{session.meeting_id}:{link.person_id}:{link.join_url[-12:]}",
            data=notify.session_data(
                session, join_url=link.join_url, **notify.organizer(counselor)
            ),
            together=together,
        )
        await reminders.for_member(
            db=db,
            session=session,
            member=students[link.person_id],
            participant=participants[link.person_id],
            together=together,
        )
    if first:
        await notify.send(
            db=db,
            session=session,
            event=Event.meeting_provisioned_host,
            to=[counselor],
            key=f"meeting-provisioned-host:{session.meeting_id}",
            data=notify.session_data(
                session,
                host_url=session.meeting_host_url,
                passcode=session.meeting_passcode,
                cleared_members=[students[link.person_id].name for link in links],
                **notify.organizer(counselor),
            ),
            together=together,
        )
        await reminders.for_counselor(
            db=db, session=session, counselor=counselor, together=together
        )
    await notify.send_together(db=db, session=session, together=together)
