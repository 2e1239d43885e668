"""Every query on meetings."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.errors import MeetingCancelled, MeetingNotFound
from services.meetings.meetings.models import Meeting, MeetingStatus, SessionCancellation


async def get(db: AsyncSession, meeting_id: uuid.UUID, *, for_update: bool = False) -> Meeting:
    meeting = await db.get(Meeting, meeting_id, with_for_update=for_update)
    if meeting is None:
        raise MeetingNotFound(f"no meeting {meeting_id}")
    return meeting


async def get_open(db: AsyncSession, meeting_id: uuid.UUID) -> Meeting:
    """The meeting, locked for a change; a cancelled one takes no more changes (409)."""
    meeting = await get(db, meeting_id, for_update=True)
    if meeting.status == MeetingStatus.cancelled:
        raise MeetingCancelled(f"meeting {meeting_id} was cancelled")
    return meeting


async def by_key(db: AsyncSession, key: str) -> Meeting | None:
    return (await db.exec(select(Meeting).where(Meeting.idempotency_key == key))).first()


async def live_of_session(db: AsyncSession, session_id: uuid.UUID) -> list[Meeting]:
    """The session's meetings not cancelled yet, locked for the cancellation."""
    rows = await db.exec(
        select(Meeting)
        .where(Meeting.session_id == session_id, Meeting.status != MeetingStatus.cancelled)
        .order_by(col(Meeting.created_at))
        .with_for_update()
    )
    return list(rows.all())


async def cancellation_by_key(db: AsyncSession, key: str) -> SessionCancellation | None:
    rows = await db.exec(
        select(SessionCancellation).where(SessionCancellation.idempotency_key == key)
    )
    return rows.first()


async def provision_cancelled(db: AsyncSession, session_id: uuid.UUID, key: str) -> bool:
    """Whether a cancellation of the session already named this provisioning request."""
    rows = await db.exec(
        select(SessionCancellation).where(SessionCancellation.session_id == session_id)
    )
    return any(key in c.provision_keys for c in rows.all())


async def by_host_token_hash(db: AsyncSession, digest: str) -> Meeting | None:
    return (await db.exec(select(Meeting).where(Meeting.host_token_hash == digest))).first()
