"""Internal routes for schools' provider accounts (the api's public routes call these)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from services.meetings.accounts import service
from services.meetings.db import DbSession
from shared.contracts.providers import (
    GoogleMeetAccountIn,
    JitsiAccountIn,
    ProviderStatus,
    ZoomAccountIn,
)
from shared.problems import problem_responses
from shared.service_auth import CallingService
from shared.stages import Provider

router = APIRouter(
    prefix="/internal/v1/schools/{school_id}/providers",
    tags=["internal"],
    responses=problem_responses(401),
)


async def _save(
    request: Request,
    db: DbSession,
    school_id: uuid.UUID,
    provider: Provider,
    data: service.AccountIn,
) -> dict[str, Any]:
    await service.save(
        db=db, box=request.app.state.secret_box, school_id=school_id, provider=provider, data=data
    )
    return {"provider": provider.value, "configured": True}


@router.post("/zoom")
async def save_zoom(
    school_id: uuid.UUID,
    data: Annotated[ZoomAccountIn, Body()],
    request: Request,
    db: DbSession,
    _: CallingService,
) -> dict[str, Any]:
    return await _save(request, db, school_id, Provider.zoom, data)


@router.post("/google_meet")
async def save_google(
    school_id: uuid.UUID,
    data: Annotated[GoogleMeetAccountIn, Body()],
    request: Request,
    db: DbSession,
    _: CallingService,
) -> dict[str, Any]:
    return await _save(request, db, school_id, Provider.google_meet, data)


@router.post("/jitsi")
async def save_jitsi(
    school_id: uuid.UUID,
    data: Annotated[JitsiAccountIn, Body()],
    request: Request,
    db: DbSession,
    _: CallingService,
) -> dict[str, Any]:
    return await _save(request, db, school_id, Provider.jitsi, data)


@router.get("", response_model=list[ProviderStatus])
async def list_accounts(
    school_id: uuid.UUID, db: DbSession, _: CallingService
) -> list[ProviderStatus]:
    return await service.statuses(db=db, school_id=school_id)
