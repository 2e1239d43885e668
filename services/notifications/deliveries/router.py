"""Internal routes: what was sent about a session, a school's dead letters, sending one again."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.notifications.db import DbSession
from services.notifications.deliveries import service
from shared.contracts.notifications import (
    DeadLetter,
    DeadLetterPage,
    PageQuery,
    SessionNotificationPage,
)
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(
    prefix="/internal/v1/schools/{school_id}",
    tags=["internal"],
    responses=problem_responses(401, 404, 409),
)


@router.get("/sessions/{session_id}/notifications", response_model=SessionNotificationPage)
async def session_notifications(
    school_id: uuid.UUID,
    session_id: uuid.UUID,
    query: Annotated[PageQuery, Query()],
    db: DbSession,
    _: CallingService,
) -> SessionNotificationPage:
    """Every notification of the session, newest first, with deliveries and their tries."""
    return await service.session_page(
        db=db, school_id=school_id, session_id=session_id, query=query
    )


@router.get("/deliveries/dead", response_model=DeadLetterPage)
async def dead_letters(
    school_id: uuid.UUID, query: Annotated[PageQuery, Query()], db: DbSession, _: CallingService
) -> DeadLetterPage:
    """The school's deliveries that gave up, newest first."""
    return await service.dead_page(db=db, school_id=school_id, query=query)


@router.post("/deliveries/{delivery_id}/retry", response_model=DeadLetter)
async def retry(
    school_id: uuid.UUID, delivery_id: uuid.UUID, db: DbSession, _: CallingService
) -> DeadLetter:
    """Send a dead letter again; 409 when it was sent or called off."""
    return await service.retry(db=db, school_id=school_id, delivery_id=delivery_id)
