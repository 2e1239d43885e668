from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.auth.deps import PersonReader, PersonWriter, StaffReader, StaffWriter
from services.api.db import DbSession
from services.api.record import service
from services.api.record.schemas import (
    EvaluationCreate,
    EvaluationPublic,
    ObservationCreate,
    ObservationPublic,
)
from services.api.sessions import service as session_service
from shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/sessions/{session_id}",
    tags=["record"],
    responses=problem_responses(401, 403, 404, 409),
)


@router.post("/observations", status_code=201, response_model=ObservationPublic)
async def observe(
    session_id: uuid.UUID, data: ObservationCreate, db: DbSession, principal: StaffWriter
) -> ObservationPublic:
    """The counselor's assessment of a member, during implementation or observation."""
    session = await session_service.get(db=db, principal=principal, session_id=session_id)
    members = await session_service.participant_ids(db=db, session=session)
    observation = await service.observe(
        db=db, principal=principal, session=session, members=members, data=data
    )
    return ObservationPublic.model_validate(observation, from_attributes=True)


@router.get("/observations", response_model=list[ObservationPublic])
async def observations(
    session_id: uuid.UUID, db: DbSession, principal: StaffReader
) -> list[ObservationPublic]:
    session = await session_service.get(db=db, principal=principal, session_id=session_id)
    return await service.observations(db=db, principal=principal, session=session)


@router.post("/evaluations", status_code=201, response_model=EvaluationPublic)
async def evaluate(
    session_id: uuid.UUID, data: EvaluationCreate, db: DbSession, principal: PersonWriter
) -> EvaluationPublic:
    """The immediate evaluation (UCA); the counselor's, or a member's own."""
    session = await session_service.get(db=db, principal=principal, session_id=session_id)
    members = await session_service.participant_ids(db=db, session=session)
    evaluation = await service.evaluate(
        db=db, principal=principal, session=session, members=members, data=data
    )
    return service.evaluation_public(evaluation)


@router.get("/evaluations", response_model=list[EvaluationPublic])
async def evaluations(
    session_id: uuid.UUID, db: DbSession, principal: PersonReader
) -> list[EvaluationPublic]:
    session = await session_service.get(db=db, principal=principal, session_id=session_id)
    return await service.evaluations(db=db, principal=principal, session=session)
