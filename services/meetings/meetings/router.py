"""Internal routes: only our own services, with a service token, reach them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.meetings.db import DbSession
from services.meetings.deps import IdempotencyKey, ProviderAttemptTimes
from services.meetings.meetings import service
from services.meetings.meetings.schemas import CancelOut
from services.meetings.participants import service as participant_service
from services.meetings.participants.links import JoinLinkMaker
from services.meetings.providers.registry import Providers
from shared.contracts.meetings import (
    CancelRequest,
    MeetingOut,
    ProvisionRequest,
    RescheduleRequest,
)
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(prefix="/internal/v1", tags=["internal"], responses=problem_responses(401))


@router.post(
    "/meetings",
    status_code=201,
    response_model=MeetingOut,
    responses={
        200: {"description": "Replay of an earlier request with this key"},
        422: {"description": "The clearance does not cover every participant"},
        503: {"description": "Being made by another request, or the provider is down"},
    },
)
async def provision_meeting(
    request: ProvisionRequest,
    idempotency_key: IdempotencyKey,
    db: DbSession,
    providers: Providers,
    links: JoinLinkMaker,
    response: Response,
    attempt_times: ProviderAttemptTimes,
    _: CallingService,
) -> MeetingOut:
    """Create the meeting a cleared session asks for, with each cleared member's own link.

    The same key always gives one meeting and the same links.
    """
    provisioned = await service.provision(
        db=db,
        request=request,
        key=idempotency_key,
        providers=providers,
        links=links,
        attempt_times=attempt_times,
    )
    response.status_code = 201 if provisioned.created else 200
    return service.public(provisioned.meeting, provisioned.join_links, links)


@router.post(
    "/meetings/{meeting_id}/reschedule",
    response_model=MeetingOut,
    responses={404: {"description": "No such meeting"}, 409: {"description": "Cancelled"}},
)
async def reschedule_meeting(
    meeting_id: uuid.UUID,
    change: RescheduleRequest,
    db: DbSession,
    providers: Providers,
    links: JoinLinkMaker,
    _: CallingService,
) -> MeetingOut:
    """Move the meeting; members keep their links, whose join window moves with it."""
    meeting = await service.reschedule(
        db=db, meeting_id=meeting_id, change=change, providers=providers
    )
    active = await participant_service.active_links(db=db, meeting=meeting, links=links)
    return service.public(meeting, active, links)


@router.post("/sessions/{session_id}/cancel", response_model=CancelOut)
async def cancel_session(
    session_id: uuid.UUID,
    request: CancelRequest,
    idempotency_key: IdempotencyKey,
    db: DbSession,
    providers: Providers,
    _: CallingService,
) -> CancelOut:
    """Cancel the session's meetings: deleted at the provider, every member's link dead."""
    cancelled = await service.cancel_session(
        db=db, session_id=session_id, request=request, key=idempotency_key, providers=providers
    )
    return CancelOut(cancelled=cancelled)
