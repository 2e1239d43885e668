"""Listing sessions with keyset pagination: each page costs the same however many rows exist.

Order is (scheduled_start, id); the cursor is the last row's pair, opaque to clients.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.api.auth.principal import Principal, Role
from services.api.db import columns, plain_rows, table
from services.api.sessions.gate import with_context
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.sessions.schemas import SessionFilters
from services.api.sessions.views import SESSION_COLUMNS
from shared import cursors
from shared.timeutil import as_utc


def encode_cursor(session: Any) -> str:
    return cursors.encode(session.scheduled_start, session.id)


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return cursors.decode(cursor)


_s, _p = columns(GuidanceSession), columns(SessionParticipant)


async def page(
    *, db: AsyncConnection, principal: Principal, filters: SessionFilters
) -> tuple[list[Any], str | None]:
    """A page of rows of `views.SESSION_COLUMNS` with their context, and the next cursor."""
    query = with_context(*SESSION_COLUMNS).where(_s.school_id == principal.tenant)
    if principal.role == Role.counselor:
        query = query.where(_s.counselor_id == principal.user_id)
    elif principal.role == Role.student:
        query = query.join(table(SessionParticipant), _p.session_id == _s.id).where(
            _p.student_id == principal.user_id
        )
    elif principal.role != Role.school_admin:
        return [], None
    if filters.group_id:
        query = query.where(_s.group_id == filters.group_id)
    if filters.stage:
        query = query.where(_s.stage == filters.stage.value)
    if filters.starts_after:
        query = query.where(_s.scheduled_start >= as_utc(filters.starts_after))
    if filters.starts_before:
        query = query.where(_s.scheduled_start < as_utc(filters.starts_before))
    if filters.cursor:
        after_start, after_id = decode_cursor(filters.cursor)
        query = query.where(
            or_(
                _s.scheduled_start > after_start,
                and_(_s.scheduled_start == after_start, _s.id > after_id),
            )
        )
    query = query.order_by(_s.scheduled_start, _s.id).limit(filters.limit + 1)
    rows = plain_rows(await db.execute(query))
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None
