"""Listing sessions with keyset pagination: each page costs the same however many rows exist.

Order is (scheduled_start, id); the cursor is the last row's pair, opaque to clients.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal, Role
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.sessions.schemas import SessionFilters
from shared import cursors
from shared.timeutil import as_utc


def encode_cursor(session: GuidanceSession) -> str:
    return cursors.encode(session.scheduled_start, session.id)


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return cursors.decode(cursor)


async def page(
    *, db: AsyncSession, principal: Principal, filters: SessionFilters
) -> tuple[list[GuidanceSession], str | None]:
    s = GuidanceSession
    query = select(s).where(s.school_id == principal.tenant)
    if principal.role == Role.counselor:
        query = query.where(s.counselor_id == principal.user_id)
    elif principal.role == Role.student:
        query = query.join(SessionParticipant, SessionParticipant.session_id == s.id).where(  # type: ignore[arg-type]
            SessionParticipant.student_id == principal.user_id
        )
    elif principal.role != Role.school_admin:
        return [], None
    if filters.group_id:
        query = query.where(s.group_id == filters.group_id)
    if filters.stage:
        query = query.where(s.stage == filters.stage.value)
    if filters.starts_after:
        query = query.where(s.scheduled_start >= as_utc(filters.starts_after))
    if filters.starts_before:
        query = query.where(s.scheduled_start < as_utc(filters.starts_before))
    if filters.cursor:
        after_start, after_id = decode_cursor(filters.cursor)
        query = query.where(
            or_(
                col(s.scheduled_start) > after_start,
                and_(col(s.scheduled_start) == after_start, col(s.id) > after_id),
            )
        )
    query = query.order_by(col(s.scheduled_start), col(s.id)).limit(filters.limit + 1)
    rows = list((await db.exec(query)).all())
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None
