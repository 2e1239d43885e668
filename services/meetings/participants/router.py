"""Internal routes: admitting members cleared later, and closing the links of those who are not."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.meetings.db import DbSession
from services.meetings.deps import IdempotencyKey
from services.meetings.participants import service
from services.meetings.participants.links import JoinLinkMaker
from services.meetings.participants.schemas import RevokeOut
from shared.contracts.meetings import AdmitOut, AdmitRequest, RevokeRequest
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(
    prefix="/internal/v1/meetings/{meeting_id}",
    tags=["internal"],
    responses=problem_responses(401),
)


@router.post(
    "/participants",
    response_model=AdmitOut,
    responses={
        404: {"description": "No such meeting"},
        409: {"description": "The meeting was cancelled"},
        422: {"description": "Someone is not cleared, or the clearance is for another meeting"},
    },
)
async def admit(
    meeting_id: uuid.UUID,
    request: AdmitRequest,
    idempotency_key: IdempotencyKey,
    db: DbSession,
    links: JoinLinkMaker,
    _: CallingService,
) -> AdmitOut:
    """Give each newly cleared member their own link; someone already admitted keeps theirs."""
    join_links = await service.admit_to_meeting(
        db=db, meeting_id=meeting_id, request=request, key=idempotency_key, links=links
    )
    return AdmitOut(join_links=join_links)


@router.post(
    "/revocations", response_model=RevokeOut, responses={404: {"description": "No such meeting"}}
)
async def revoke(
    meeting_id: uuid.UUID, request: RevokeRequest, db: DbSession, _: CallingService
) -> RevokeOut:
    """The person's link stops working now (their consent was withdrawn)."""
    return RevokeOut(revoked=await service.revoke(db=db, meeting_id=meeting_id, request=request))
