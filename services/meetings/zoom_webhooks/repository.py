"""Every query of the Zoom webhooks."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.models import Meeting
from services.meetings.zoom_webhooks.models import Attendance


async def zoom_meeting(
    db: AsyncSession, *, school_id: uuid.UUID, provider_ref: str
) -> Meeting | None:
    """The school's Lingkar meeting that is this Zoom meeting, if any."""
    rows = await db.exec(
        select(Meeting).where(
            Meeting.school_id == school_id,
            Meeting.provider == "zoom",
            Meeting.provider_ref == provider_ref,
        )
    )
    return rows.first()


async def add_once(db: AsyncSession, attendance: Attendance) -> bool:
    """Insert the row unless the same event is there already (a redelivery, even a concurrent
    one); True when it was new."""
    connection = await db.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Attendance)
        .values(**attendance.model_dump())
        .on_conflict_do_nothing(index_elements=["provider_ref", "participant_key", "event", "at"])
    )
    result = await connection.execute(statement)
    return bool(result.rowcount)
