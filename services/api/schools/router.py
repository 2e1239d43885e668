"""The operator's platform API: bring schools on without dev mode."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.auth.deps import PlatformAdmin
from services.api.db import DbSession
from services.api.schools import service
from services.api.schools.schemas import SchoolCreate, SchoolCreated, SchoolPublic
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/platform", tags=["platform"], responses=problem_responses(401, 403))


@router.post("/schools", status_code=201, response_model=SchoolCreated)
async def create_school(data: SchoolCreate, db: DbSession, _: PlatformAdmin) -> SchoolCreated:
    """Create a school and its first admin client; the secret is shown only in this answer."""
    school, credentials = await service.create(db=db, data=data)
    return SchoolCreated(
        school=SchoolPublic.model_validate(school, from_attributes=True), admin_client=credentials
    )


@router.get("/schools", response_model=list[SchoolPublic])
async def list_schools(db: DbSession, _: PlatformAdmin) -> list[SchoolPublic]:
    return [
        SchoolPublic.model_validate(s, from_attributes=True) for s in await service.list_all(db=db)
    ]
