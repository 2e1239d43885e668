from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.api.auth.deps import PersonReader
from services.api.db import DbSession
from services.api.privacy import export
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/me", tags=["privacy"], responses=problem_responses(401, 403))


@router.get("/data")
async def my_data(db: DbSession, principal: PersonReader) -> dict[str, Any]:
    """Everything Lingkar keeps about the caller (a student or a guardian), as JSON."""
    return await export.export(db=db, principal=principal)
