"""A school's provider accounts: the school admin sets them here; the meetings service keeps
them (secrets encrypted, write-only) since it is the one that calls the providers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.api.auth.deps import SchoolAdmin
from services.api.providers import service
from shared.contracts.providers import (
    GoogleMeetAccountIn,
    JitsiAccountIn,
    ProviderStatus,
    ZoomAccountIn,
)
from shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/school/providers",
    tags=["provider accounts"],
    responses=problem_responses(401, 403),
)
_SAVED = {"content": {"application/json": {"example": {"provider": "zoom", "configured": True}}}}


@router.put("/zoom", responses={200: _SAVED})
async def set_zoom(data: ZoomAccountIn, request: Request, principal: SchoolAdmin) -> dict[str, Any]:
    """The school's Zoom Server-to-Server OAuth app. Secrets are stored encrypted and never
    returned."""
    return await service.save(request.app.state, principal.tenant, "zoom", data)


@router.put("/google_meet", responses={200: _SAVED})
async def set_google_meet(
    data: GoogleMeetAccountIn, request: Request, principal: SchoolAdmin
) -> dict[str, Any]:
    """A Google Workspace service account with domain-wide delegation."""
    return await service.save(request.app.state, principal.tenant, "google_meet", data)


@router.put("/jitsi", responses={200: _SAVED})
async def set_jitsi(
    data: JitsiAccountIn, request: Request, principal: SchoolAdmin
) -> dict[str, Any]:
    """The school's own Jitsi server (token auth optional), or 8x8 JaaS."""
    return await service.save(request.app.state, principal.tenant, "jitsi", data)


@router.get("", response_model=list[ProviderStatus])
async def list_providers(request: Request, principal: SchoolAdmin) -> list[ProviderStatus]:
    """Which providers are configured and usable; no secrets. Jitsi on the default server is
    usable by every school."""
    return await service.statuses(request.app.state, principal.tenant)
