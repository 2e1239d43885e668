"""Internal routes: only our own services, with a service token, reach them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from services.meetings.db import DbSession
from services.meetings.meetings import service
from services.meetings.providers.registry import provider_for
from shared.contracts.meetings import MeetingOut, ProvisionRequest
from shared.service_auth import CallingService

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post(
    "/meetings",
    status_code=201,
    response_model=MeetingOut,
    responses={
        200: {"description": "Replay of an earlier request with this key"},
        422: {"description": "The clearance does not cover every participant"},
    },
)
async def provision_meeting(
    request: ProvisionRequest,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=200)],
    db: DbSession,
    http: Request,
    response: Response,
    _: CallingService,
) -> MeetingOut:
    """Create the meeting a cleared session asks for; the same key always gives one meeting."""
    provider = provider_for(http.app.state.settings, request.provider)
    meeting, created = await service.provision(
        db=db, request=request, key=idempotency_key, provider=provider
    )
    response.status_code = 201 if created else 200
    return service.public(meeting)
