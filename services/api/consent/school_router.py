from __future__ import annotations

from fastapi import APIRouter

from services.api.auth.deps import SchoolAdmin
from services.api.consent import school_texts
from services.api.consent.requests import Asker
from services.api.consent.school_texts import SchoolWording, VersionPublic
from services.api.db import DbSession
from shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/school/consent-texts", tags=["consent"], responses=problem_responses(401, 403)
)


@router.post("", status_code=201, response_model=VersionPublic)
async def add_wording(
    data: SchoolWording, db: DbSession, principal: SchoolAdmin, asker: Asker
) -> VersionPublic:
    """The school's own wording, as a new version. Consent given under earlier versions no
    longer covers sessions: every live session that asked before asks again, now."""
    version = await school_texts.add_version(db=db, principal=principal, data=data, asker=asker)
    return VersionPublic.model_validate(version, from_attributes=True)


@router.get("", response_model=list[VersionPublic])
async def list_wordings(db: DbSession, principal: SchoolAdmin) -> list[VersionPublic]:
    rows = await school_texts.versions(db=db, school_id=principal.tenant)
    return [VersionPublic.model_validate(v, from_attributes=True) for v in rows]
