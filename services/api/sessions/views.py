"""What each caller sees of a session."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal, Role
from services.api.sessions import plan
from services.api.sessions.gate import SessionGate, evaluate_many
from services.api.sessions.models import GuidanceSession
from services.api.sessions.schemas import (
    GatePublic,
    MeetingSummary,
    MemberGatePublic,
    SessionPublic,
    UnmetPublic,
)
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
    return (await sessions_public(db=db, principal=principal, sessions=[session]))[0]


async def new_session_public(
    *, db: AsyncSession, principal: Principal, session: GuidanceSession
) -> SessionPublic:
    """The view of a session just created: nothing is read that it cannot have yet."""
    gates = await evaluate_many(db=db, sessions=[session], new=True)
    return _public(session, gates[session.id], principal)


async def sessions_public(
    *, db: AsyncSession, principal: Principal, sessions: list[GuidanceSession]
) -> list[SessionPublic]:
    """The views of several sessions; their gates are read together, not one by one."""
    gates = await evaluate_many(db=db, sessions=sessions)
    return [_public(session, gates[session.id], principal) for session in sessions]


def _public(session: GuidanceSession, gate: SessionGate, principal: Principal) -> SessionPublic:
    meeting = None
    if session.meeting_id and session.meeting_provisioned_at and session.meeting_provider:
        meeting = MeetingSummary(
            id=session.meeting_id,
            provider=Provider(session.meeting_provider),
            provisioned_at=as_utc(session.meeting_provisioned_at),
        )
    return SessionPublic.model_validate(
        {
            **session.model_dump(),
            "scheduled_start": as_utc(session.scheduled_start).astimezone(
                ZoneInfo(session.timezone)
            ),
            "created_at": as_utc(session.created_at),
            # Every participant is a member of the gate (each is a student of the school).
            "participant_ids": [m.student.id for m in gate.members],
            "plan": plan.public(gate.plan),
            "gate": gate_public(gate, principal),
            "meeting": meeting,
        }
    )
