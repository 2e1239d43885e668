"""Internal routes of the api: only our own services, with a service token, reach them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.db import DbSession
from services.api.sessions.gate import evaluate
from services.api.sessions.models import GuidanceSession
from services.api.sessions.provisioning import LIVE_STAGES
from shared.contracts.api import MemberClearance
from shared.problems import NotFound
from shared.service_auth import CallingService

router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


@router.get("/sessions/{session_id}/members/{person_id}/clearance", response_model=MemberClearance)
async def member_clearance(
    session_id: uuid.UUID,
    person_id: uuid.UUID,
    db: DbSession,
    _: CallingService,
    meeting_id: uuid.UUID | None = None,
) -> MemberClearance:
    """Asked by the join gate at the moment of a click: is this member still cleared, for this
    meeting? A meeting that is not the session's current one admits nobody."""
    session = await db.get(GuidanceSession, session_id)
    if session is None:
        raise NotFound("no such session")
    if session.stage not in LIVE_STAGES:
        return MemberClearance(cleared=False, reasons=[f"session_{session.stage}"])
    if meeting_id is not None and session.meeting_id != meeting_id:
        return MemberClearance(cleared=False, reasons=["meeting_not_current"])
    gate = await evaluate(db=db, session=session)
    member = next((m for m in gate.members if m.student.id == person_id), None)
    if member is None:
        return MemberClearance(cleared=False, reasons=["not_a_member"])
    return MemberClearance(cleared=member.cleared, reasons=[u.code for u in member.missing])
