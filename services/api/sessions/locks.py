"""One change to a session's meeting state at a time.

Requests (consent, withdrawal, moves) and the outbox relay recording an answer all read the
gate and then write links. Without a lock, one can read the gate before the other commits and
write over it (a link stored after it was revoked). Every such path takes the session's lock
first, then reads: on PostgreSQL an advisory lock, on SQLite the database's write lock. Several
sessions are always locked in id order, so two paths never wait on each other in a circle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.sessions.models import GuidanceSession
from shared.db import serialize


async def lock(db: AsyncSession, session_ids: Iterable[uuid.UUID]) -> None:
    for session_id in sorted(set(session_ids)):
        await serialize(db, f"guidance-session:{session_id}")


async def locked(db: AsyncSession, session_id: uuid.UUID) -> GuidanceSession | None:
    """The session, locked, read fresh (not from what this transaction saw before)."""
    await lock(db, [session_id])
    rows = await db.exec(
        select(GuidanceSession)
        .where(GuidanceSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return rows.first()
