"""Every query on participants."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.participants.models import Participant, ParticipantStatus


async def admissions(
    db: AsyncSession, meeting_id: uuid.UUID, person_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Participant]]:
    """Every admission of these people to the meeting, oldest first."""
    rows = await db.exec(
        select(Participant)
        .where(Participant.meeting_id == meeting_id, col(Participant.person_id).in_(person_ids))
        .order_by(col(Participant.admission_no))
    )
    found: dict[uuid.UUID, list[Participant]] = defaultdict(list)
    for row in rows.all():
        found[row.person_id].append(row)
    return dict(found)


async def active(
    db: AsyncSession, meeting_id: uuid.UUID, person_id: uuid.UUID | None = None
) -> list[Participant]:
    """Admissions still active: one person's, or the whole meeting's."""
    query = select(Participant).where(
        Participant.meeting_id == meeting_id, Participant.status == ParticipantStatus.active
    )
    if person_id is not None:
        query = query.where(Participant.person_id == person_id)
    rows = await db.exec(query.order_by(col(Participant.admitted_at)))
    return list(rows.all())


async def by_token_hash(db: AsyncSession, digest: str) -> Participant | None:
    rows = await db.exec(select(Participant).where(Participant.token_hash == digest))
    return rows.first()
