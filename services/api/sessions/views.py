"""What each caller sees of a session."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal, Role
from services.api.sessions import plan
from services.api.sessions.gate import SessionGate, evaluate
from services.api.sessions.models import GuidanceSession, SessionPlan
from services.api.sessions.schemas import (
    GatePublic,
    MeetingSummary,
    MemberGatePublic,
    SessionPublic,
    UnmetPublic,
)
from services.api.sessions.service import participant_ids
from shared.stages import Provider
from shared.timeutil import as_utc


def gate_public(gate: SessionGate, principal: Principal) -> GatePublic:
    members = [
        MemberGatePublic(
            student_id=m.student.id,
            cleared=m.cleared,
            needs_guardian=m.needs_guardian,
            missing=[UnmetPublic(code=u.code, message=u.message) for u in m.missing],
        )
        for m in gate.members
        # Classmates' consent is not a student's business.
        if principal.role != Role.student or m.student.id == principal.user_id
    ]
    return GatePublic(
        met=gate.met,
        unmet=[UnmetPublic(code=u.code, message=u.message) for u in gate.unmet],
        members=members,
    )


async def session_public(
    *, db: AsyncSession, principal: Principal, session: GuidanceSession
) -> SessionPublic:
    meeting = None
    if session.meeting_id and session.meeting_provisioned_at and session.meeting_provider:
        meeting = MeetingSummary(
            id=session.meeting_id,
            provider=Provider(session.meeting_provider),
            provisioned_at=as_utc(session.meeting_provisioned_at),
        )
    gate = await evaluate(db=db, session=session)
    return SessionPublic.model_validate(
        {
            **session.model_dump(),
            "scheduled_start": as_utc(session.scheduled_start).astimezone(
                ZoneInfo(session.timezone)
            ),
            "created_at": as_utc(session.created_at),
            "participant_ids": await participant_ids(db=db, session=session),
            "plan": plan.public(await db.get(SessionPlan, session.id)),
            "gate": gate_public(gate, principal),
            "meeting": meeting,
        }
    )
