"""What an operator can do about the outbox (`python -m services.api.cli outbox ...`).

A lane (one session's calls to one service) waits while its oldest message keeps failing: for
up to about a day of tries before the relay gives it up. Once the cause is known, an operator
can see the held lanes, have a message tried again now (the cause is mended), or give it up
(it never will be), so the session's later calls go on.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import give_up as relay_give_up
from shared.problems import Conflict, NotFound
from shared.timeutil import as_utc, utcnow


async def held(db: AsyncSession, *, limit: int = 50) -> list[dict[str, Any]]:
    """Pending messages that have failed at least once, oldest first, with how many of their
    lane wait behind them (one statement)."""
    later = aliased(OutboxMessage)
    behind = (
        select(func.count())
        .select_from(later)
        .where(
            # A message of no lane holds nothing back: NULL equals nothing.
            col(later.lane) == col(OutboxMessage.lane),
            later.status == "pending",
            col(later.created_at) > col(OutboxMessage.created_at),
        )
        .correlate(OutboxMessage)
        .scalar_subquery()
    )
    failing = (
        await db.exec(
            select(OutboxMessage, behind)
            .where(OutboxMessage.status == "pending", col(OutboxMessage.attempts) > 0)
            .order_by(col(OutboxMessage.created_at))
            .limit(limit)
        )
    ).all()
    return [{**_summary(message), "waiting_behind": waiting} for message, waiting in failing]


async def retry_now(db: AsyncSession, message_id: uuid.UUID) -> dict[str, Any]:
    """Due at once instead of after its backoff; the tries made so far still count."""
    message = await _pending(db, message_id)
    message.next_attempt_at = utcnow()
    db.add(message)
    return _summary(message)


async def give_up(db: AsyncSession, message_id: uuid.UUID, *, reason: str) -> dict[str, Any]:
    """Dead, as after its last try (what its kind undoes is undone); its lane moves on."""
    message = await _pending(db, message_id)
    locked_until = message.locked_until
    if locked_until is not None and as_utc(locked_until) > utcnow():
        raise Conflict(
            f"outbox message {message_id} is being delivered right now; try again after "
            f"{as_utc(locked_until).isoformat()}"
        )
    await relay_give_up(db, message, f"given up by the operator: {reason}")
    db.add(message)
    return _summary(message)


async def _pending(db: AsyncSession, message_id: uuid.UUID) -> OutboxMessage:
    message = await db.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    if message.status != "pending":
        raise Conflict(f"outbox message {message_id} is {message.status}, not pending")
    return message


def _summary(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "kind": message.kind,
        "lane": message.lane,
        "school_id": str(message.school_id),
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": as_utc(message.next_attempt_at).isoformat(),
        "last_error": message.last_error,
    }
