"""Putting calls to other services in the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from shared.db import AFTER_COMMIT
from shared.observability import current_request_id


async def enqueue(
    *,
    db: AsyncSession,
    school_id: uuid.UUID,
    kind: str,
    idempotency_key: str,
    payload: dict[str, Any],
    session_id: uuid.UUID | None,
) -> OutboxMessage:
    """Add the message unless one with this key exists; the relay is woken after commit.

    The messages of one session to one service (`kind` is `service.call`) are delivered in
    the order they were enqueued, one at a time: a revocation never overtakes the admission
    it undoes, nor a call-off the reminder it calls off."""
    existing = (
        await db.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
    ).first()
    if existing:
        return existing
    message = OutboxMessage(
        school_id=school_id,
        kind=kind,
        idempotency_key=idempotency_key,
        payload=payload,
        lane=lane_of(kind, session_id),
        request_id=current_request_id(),
    )
    db.add(message)
    await db.flush()
    wake: Callable[[], None] | None = db.info.get("wake_outbox")
    if wake is not None and wake not in db.info.get(AFTER_COMMIT, []):
        db.info.setdefault(AFTER_COMMIT, []).append(wake)
    return message


def lane_of(kind: str, session_id: uuid.UUID | None) -> str | None:
    """The lane of a message: its session's calls to the service its kind names."""
    if session_id is None:
        return None
    service, _, _ = kind.partition(".")
    return f"{service}:{session_id}"
