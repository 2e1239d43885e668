from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.auth.deps import PersonReader, StaffWriter
from services.api.db import DbSession
from services.api.users import service
from services.api.users.schemas import GuardianLink, GuardianshipPublic, UserCreate, UserPublic
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/users", tags=["people"], responses=problem_responses(401, 403, 404))


@router.post("", status_code=201, response_model=UserPublic)
async def create_user(data: UserCreate, db: DbSession, principal: StaffWriter) -> UserPublic:
    """Add a counselor, student or guardian to the caller's school."""
    user = await service.create(db=db, school_id=principal.tenant, data=data)
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/{user_id}", response_model=UserPublic)
async def get_user(user_id: uuid.UUID, db: DbSession, principal: PersonReader) -> UserPublic:
    """Staff read anyone of their school; a student or guardian reads themselves."""
    user = await service.get_visible(db=db, principal=principal, user_id=user_id)
    return UserPublic.model_validate(user, from_attributes=True)


@router.post("/{student_id}/guardians", status_code=201, response_model=GuardianshipPublic)
async def add_guardian(
    student_id: uuid.UUID, link: GuardianLink, db: DbSession, principal: StaffWriter
) -> GuardianshipPublic:
    """Record that a guardian is responsible for a student (needed for a minor's consent)."""
    guardianship = await service.add_guardian(
        db=db, school_id=principal.tenant, student_id=student_id, link=link
    )
    return GuardianshipPublic.model_validate(guardianship, from_attributes=True)
