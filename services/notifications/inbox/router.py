"""Internal routes of the inbox: the api asks for a person of a school, with a service token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.notifications.db import DbSession
from services.notifications.inbox import service
from shared.contracts.notifications import InboxPage, InboxQuery, InboxRead
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(
    prefix="/internal/v1/schools/{school_id}/people/{person_id}/inbox",
    tags=["internal"],
    responses=problem_responses(401, 404),
)


@router.get("", response_model=InboxPage)
async def inbox(
    school_id: uuid.UUID,
    person_id: uuid.UUID,
    query: Annotated[InboxQuery, Query()],
    db: DbSession,
    _: CallingService,
) -> InboxPage:
    """The person's inbox, newest first; pass `next_cursor` back for the next page."""
    return await service.page(db=db, school_id=school_id, person_id=person_id, query=query)


@router.post("/read-all", response_model=InboxRead)
async def mark_all_read(
    school_id: uuid.UUID, person_id: uuid.UUID, db: DbSession, _: CallingService
) -> InboxRead:
    """Mark every item shown so far read."""
    return await service.mark_all_read(db=db, school_id=school_id, person_id=person_id)


@router.post("/{item_id}/read", response_model=InboxRead)
async def mark_read(
    school_id: uuid.UUID,
    person_id: uuid.UUID,
    item_id: uuid.UUID,
    db: DbSession,
    _: CallingService,
) -> InboxRead:
    """Mark one item read; 404 when it is not this person's."""
    return await service.mark_read(db=db, school_id=school_id, person_id=person_id, item_id=item_id)
