"""What follows a change of schedule or stage: the provider's meeting and the people involved.

Rescheduling updates the provider's meeting and tells everyone; cancelling (or going back to
choose another platform) deletes it; completing schedules the counselor's follow-ups.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import Sent, handles
from services.api.sessions import notify
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.sessions.provisioning import meetings_url
from services.api.users.models import User
from shared.contracts.meetings import CancelRequest, RescheduleRequest
from shared.contracts.notifications import Event
from shared.timeutil import as_utc, utcnow

RESCHEDULE = "meetings.reschedule"
CANCEL = "meetings.cancel"
FOLLOW_UPS = (("short_term", timedelta(days=7)), ("long_term", timedelta(days=30)))


async def _people(db: AsyncSession, session: GuidanceSession) -> tuple[User, list[User]]:
    """The counselor and the members who hold a link."""
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None
    linked = await db.exec(
        select(User)
        .join(SessionParticipant, col(SessionParticipant.student_id) == User.id)
        .where(
            SessionParticipant.session_id == session.id,
            col(SessionParticipant.join_url).is_not(None),
        )
    )
    return counselor, list(linked.all())


async def rescheduled(*, db: AsyncSession, session: GuidanceSession, change_id: uuid.UUID) -> None:
    if session.meeting_id is not None:
        request = RescheduleRequest(
            scheduled_start=as_utc(session.scheduled_start),
            duration_minutes=session.duration_minutes,
            title=session.title,
        )
        await outbox.enqueue(
            db=db,
            school_id=session.school_id,
            kind=RESCHEDULE,
            idempotency_key=f"reschedule:{session.id}:{change_id}",
            payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
        )
    counselor, members = await _people(db, session)
    await notify.send(
        db=db,
        session=session,
        event=Event.session_rescheduled,
        to=[counselor],
        key=f"rescheduled:{change_id}:{counselor.id}",
        data=notify.session_data(session, host_url=session.meeting_host_url),
    )
    links = await _links(db, session)
    for member in members:
        await notify.send(
            db=db,
            session=session,
            event=Event.session_rescheduled,
            to=[member],
            key=f"rescheduled:{change_id}:{member.id}",
            data=notify.session_data(session, join_url=links.get(member.id)),
        )


async def _links(db: AsyncSession, session: GuidanceSession) -> dict[uuid.UUID, str]:
    rows = await db.exec(
        select(SessionParticipant).where(SessionParticipant.session_id == session.id)
    )
    return {p.student_id: p.join_url for p in rows.all() if p.join_url}


async def cancelled(
    *, db: AsyncSession, session: GuidanceSession, reason: str, change_id: uuid.UUID
) -> None:
    counselor, members = await _people(db, session)
    await cancel_meetings(db=db, session=session, reason=reason)
    await notify.send(
        db=db,
        session=session,
        event=Event.session_cancelled,
        to=[counselor, *members],
        key=f"cancelled:{change_id}",
        data=notify.session_data(session, reason=reason),
    )


async def cancel_meetings(
    *, db: AsyncSession, session: GuidanceSession, reason: str, force: bool = False
) -> None:
    """Delete the session's meetings at the provider and forget every link to them.

    `force`: a meeting answered after the session stopped wanting it is deleted all the same.
    """
    if session.meeting_requested_at is None and not force:
        return
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=CANCEL,
        idempotency_key=f"cancel:{session.id}:{utcnow().isoformat()}",
        payload={"session_id": str(session.id), **CancelRequest(reason=reason).model_dump()},
    )
    session.meeting_requested_at = session.meeting_id = session.meeting_provisioned_at = None
    session.meeting_host_url = session.meeting_passcode = session.meeting_provider = None
    db.add(session)
    rows = await db.exec(
        select(SessionParticipant).where(SessionParticipant.session_id == session.id)
    )
    for participant in rows.all():
        participant.join_url = participant.admitted_at = participant.admission_requested_at = None
        db.add(participant)


async def completed(*, db: AsyncSession, session: GuidanceSession) -> None:
    """Remind the counselor of the follow-up evaluations, about a week and a month later."""
    counselor, _ = await _people(db, session)
    names = [
        u.name
        for u in (
            await db.exec(
                select(User)
                .join(SessionParticipant, col(SessionParticipant.student_id) == User.id)
                .where(SessionParticipant.session_id == session.id)
            )
        ).all()
    ]
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


@handles(RESCHEDULE)
async def send_reschedule(message: OutboxMessage, app_state: Any) -> Sent:
    payload = dict(message.payload)
    meeting_id = payload.pop("meeting_id")
    url = meetings_url(app_state, f"/internal/v1/meetings/{meeting_id}/reschedule")
    await app_state.service_client.post(
        "meetings", url, json=payload, idempotency_key=message.idempotency_key
    )
    return Sent(_nothing)


@handles(CANCEL)
async def send_cancel(message: OutboxMessage, app_state: Any) -> Sent:
    payload = dict(message.payload)
    session_id = payload.pop("session_id")
    url = meetings_url(app_state, f"/internal/v1/sessions/{session_id}/cancel")
    await app_state.service_client.post(
        "meetings", url, json=payload, idempotency_key=message.idempotency_key
    )
    return Sent(_nothing)


async def _nothing(_: AsyncSession) -> None:
    """The meetings service keeps the record of its meetings."""
