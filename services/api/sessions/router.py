from __future__ import annotations

import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from services.api.auth.deps import PersonReader, StaffReader, StaffWriter
from services.api.db import DbSession
from services.api.sessions import listing, service
from services.api.sessions.models import GuidanceSession
from services.api.sessions.schemas import (
    HistoryEntry,
    MeetingSummary,
    MeetingView,
    PlatformChoice,
    SessionCreate,
    SessionFilters,
    SessionPage,
    SessionPublic,
    TransitionRequest,
)
from shared.timeutil import as_utc

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
_REFUSAL: dict[int | str, dict[str, Any]] = {
    409: {"description": "problem+json with `unmet`: every requirement not met"}
}


def _public(session: GuidanceSession, participants: list[uuid.UUID]) -> SessionPublic:
    meeting = None
    if session.meeting_id and session.meeting_provisioned_at:
        meeting = MeetingSummary(
            id=session.meeting_id,
            provider=session.meeting_provider,
            provisioned_at=as_utc(session.meeting_provisioned_at),
        )
    return SessionPublic.model_validate(
        {
            **session.model_dump(),
            "scheduled_start": as_utc(session.scheduled_start).astimezone(
                ZoneInfo(session.timezone)
            ),
            "created_at": as_utc(session.created_at),
            "participant_ids": participants,
            "meeting": meeting,
        }
    )


async def _answer(db: DbSession, session: GuidanceSession) -> SessionPublic:
    return _public(session, await service.participant_ids(db=db, session=session))


@router.post("", status_code=201, response_model=SessionPublic)
async def create_session(
    data: SessionCreate, db: DbSession, principal: StaffWriter
) -> SessionPublic:
    """Plan a session for a group; it starts in `pre_preparation`."""
    return await _answer(db, await service.create(db=db, principal=principal, data=data))


@router.get("", response_model=SessionPage)
async def list_sessions(
    filters: Annotated[SessionFilters, Query()], db: DbSession, principal: PersonReader
) -> SessionPage:
    """Sessions the caller may see, by start time; pass `next_cursor` back for the next page."""
    rows, next_cursor = await listing.page(db=db, principal=principal, filters=filters)
    ids = {r.id: await service.participant_ids(db=db, session=r) for r in rows}
    return SessionPage(items=[_public(r, ids[r.id]) for r in rows], next_cursor=next_cursor)


@router.get("/{session_id}", response_model=SessionPublic)
async def get_session(
    session_id: uuid.UUID, db: DbSession, principal: PersonReader
) -> SessionPublic:
    return await _answer(db, await service.get(db=db, principal=principal, session_id=session_id))


@router.put("/{session_id}/platform", response_model=SessionPublic, responses=_REFUSAL)
async def choose_platform(
    session_id: uuid.UUID, choice: PlatformChoice, db: DbSession, principal: StaffWriter
) -> SessionPublic:
    session = await service.choose_platform(
        db=db, principal=principal, session_id=session_id, choice=choice
    )
    return await _answer(db, session)


@router.post("/{session_id}/transitions", response_model=SessionPublic, responses=_REFUSAL)
async def move(
    session_id: uuid.UUID, data: TransitionRequest, db: DbSession, principal: StaffWriter
) -> SessionPublic:
    """Move to another stage (or phase); refused with every unmet requirement listed."""
    session = await service.transition(
        db=db, principal=principal, session_id=session_id, to=data.to, reason=data.reason
    )
    return await _answer(db, session)


@router.get(
    "/{session_id}/history", response_model=list[HistoryEntry], response_model_by_alias=True
)
async def session_history(
    session_id: uuid.UUID, db: DbSession, principal: StaffReader
) -> list[HistoryEntry]:
    events = await service.history(db=db, principal=principal, session_id=session_id)
    return [HistoryEntry.model_validate(e, from_attributes=True) for e in events]


@router.get("/{session_id}/meeting", response_model=MeetingView, response_model_exclude_none=True)
async def meeting_view(
    session_id: uuid.UUID, db: DbSession, principal: PersonReader
) -> MeetingView:
    return await service.meeting_view(db=db, principal=principal, session_id=session_id)
