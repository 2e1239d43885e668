from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.api.auth.deps import PersonReader, StaffReader, StaffWriter
from services.api.consent.requests import Asker
from services.api.db import DbSession, ReadDb
from services.api.sessions import listing, preparation, service, views
from services.api.sessions.plan import PlanUpdate
from services.api.sessions.schemas import (
    CancelRequest,
    HistoryEntry,
    MeetingView,
    PlatformChoice,
    SessionCreate,
    SessionFilters,
    SessionPage,
    SessionPublic,
    SessionUpdate,
    TransitionRequest,
)
from shared.problems import problem_responses
from shared.responses import json_response

router = APIRouter(
    prefix="/v1/sessions",
    tags=["sessions"],
    responses=problem_responses(401, 403, 404),
)
_REFUSAL: dict[int | str, dict[str, Any]] = {
    409: {"description": "problem+json with `unmet`: every requirement not met"}
}


@router.post("", status_code=201, response_model=SessionPublic)
async def create_session(data: SessionCreate, db: DbSession, principal: StaffWriter) -> Response:
    """Plan a session for a group; it starts in `pre_preparation`."""
    session_id = await service.create(db=db, principal=principal, data=data)
    view = await views.read(db=await db.connection(), principal=principal, session_id=session_id)
    return json_response(view, status_code=201)


@router.get("", response_model=SessionPage)
async def list_sessions(
    filters: Annotated[SessionFilters, Query()], db: ReadDb, principal: PersonReader
) -> Response:
    """Sessions the caller may see, by start time; pass `next_cursor` back for the next page."""
    rows, next_cursor = await listing.page(db=db, principal=principal, filters=filters)
    items = await views.rows_public(db=db, principal=principal, rows=rows)
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get("/{session_id}", response_model=SessionPublic)
async def get_session(session_id: uuid.UUID, db: ReadDb, principal: PersonReader) -> Response:
    """The session with its plan, its gate (who is cleared, what is missing) and meeting."""
    return json_response(await views.read(db=db, principal=principal, session_id=session_id))


@router.patch("/{session_id}", response_model=SessionPublic)
async def reschedule_session(
    session_id: uuid.UUID, data: SessionUpdate, db: DbSession, principal: StaffWriter
) -> dict[str, Any]:
    """Reschedule or rename: the provider's meeting is updated and everyone is told."""
    session = await service.reschedule(db=db, principal=principal, session_id=session_id, data=data)
    return await views.session_public(db=db, principal=principal, session=session)


@router.put("/{session_id}/platform", response_model=SessionPublic, responses=_REFUSAL)
async def choose_platform(
    session_id: uuid.UUID,
    choice: PlatformChoice,
    db: DbSession,
    principal: StaffWriter,
    asker: Asker,
) -> dict[str, Any]:
    """Choose the medium (and a fallback). Changing it asks everyone's consent again."""
    session = await service.choose_platform(
        db=db, principal=principal, session_id=session_id, choice=choice, asker=asker
    )
    return await views.session_public(db=db, principal=principal, session=session)


@router.put("/{session_id}/plan", response_model=SessionPublic)
async def save_plan(
    session_id: uuid.UUID, data: PlanUpdate, db: DbSession, principal: StaffWriter
) -> dict[str, Any]:
    """Save the service plan (RPL); a draft is kept, and `plan.missing` says what is left."""
    session = await preparation.save_plan(
        db=db, principal=principal, session_id=session_id, data=data
    )
    return await views.session_public(db=db, principal=principal, session=session)


@router.post(
    "/{session_id}/attestation",
    status_code=201,
    responses={200: {"description": "Already attested; the first attestation"}},
)
async def attest(
    session_id: uuid.UUID, db: DbSession, principal: StaffWriter, response: Response
) -> dict[str, Any]:
    """The counselor attests the code of ethics and the method were explained to the group."""
    attestation, new = await preparation.attest(db=db, principal=principal, session_id=session_id)
    response.status_code = 201 if new else 200
    return attestation.model_dump(mode="json")


@router.post("/{session_id}/transitions", response_model=SessionPublic, responses=_REFUSAL)
async def move(
    session_id: uuid.UUID, data: TransitionRequest, db: DbSession, principal: StaffWriter
) -> dict[str, Any]:
    """Move to another stage (or phase); refused with every unmet requirement listed."""
    session = await service.transition(
        db=db, principal=principal, session_id=session_id, to=data.to, reason=data.reason
    )
    return await views.session_public(db=db, principal=principal, session=session)


@router.post("/{session_id}/cancel", response_model=SessionPublic, responses=_REFUSAL)
async def cancel(
    session_id: uuid.UUID, data: CancelRequest, db: DbSession, principal: StaffWriter
) -> dict[str, Any]:
    """Cancel: the provider's meeting is deleted and everyone involved is told."""
    session = await service.cancel(
        db=db, principal=principal, session_id=session_id, reason=data.reason
    )
    return await views.session_public(db=db, principal=principal, session=session)


@router.post(
    "/{session_id}/meeting", status_code=201, response_model=SessionPublic, responses=_REFUSAL
)
async def provision_meeting(
    session_id: uuid.UUID, db: DbSession, principal: StaffWriter
) -> dict[str, Any]:
    """Ask for the meeting now (normally automatic when the gate is met).

    The meeting is made in the background; `meeting` in the answer is filled once the
    provider has answered (usually within a second): read the session again.
    """
    session = await preparation.provision_now(db=db, principal=principal, session_id=session_id)
    return await views.session_public(db=db, principal=principal, session=session)


@router.get("/{session_id}/meeting", response_model=MeetingView, response_model_exclude_none=True)
async def meeting_view(
    session_id: uuid.UUID, db: DbSession, principal: PersonReader
) -> MeetingView:
    """Staff see the host link and each member's link; a cleared member only their own."""
    return await service.meeting_view(db=db, principal=principal, session_id=session_id)


@router.get(
    "/{session_id}/history", response_model=list[HistoryEntry], response_model_by_alias=True
)
async def session_history(
    session_id: uuid.UUID, db: DbSession, principal: StaffReader
) -> list[HistoryEntry]:
    """Every stage change, gate decision and link issued: who, when, from, to, why."""
    events = await service.history(db=db, principal=principal, session_id=session_id)
    return [HistoryEntry.model_validate(e, from_attributes=True) for e in events]
