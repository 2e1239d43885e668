"""Sessions: planning, the stage machine's moves, and the record of every change."""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal, Role
from services.api.groups import service as group_service
from services.api.groups.models import GroupMember
from services.api.schools import service as school_service
from services.api.sessions import provisioning
from services.api.sessions.models import GuidanceSession, SessionEvent, SessionParticipant
from services.api.sessions.schemas import MeetingView, PlatformChoice, SessionCreate
from shared.problems import Conflict, NotFound, RequirementsUnmet, Unmet
from shared.stages import Phase, Provider, SessionFacts, Stage, phase_refusals, refusals
from shared.timeutil import as_utc, utcnow


async def create(*, db: AsyncSession, principal: Principal, data: SessionCreate) -> GuidanceSession:
    group = await group_service.get(db=db, principal=principal, group_id=data.group_id)
    access.ensure_may_run_session(principal, counselor_id=group.counselor_id)
    school = await school_service.get(db=db, school_id=principal.tenant)
    session = GuidanceSession(
        school_id=school.id,
        group_id=group.id,
        counselor_id=group.counselor_id,
        title=data.title,
        scheduled_start=as_utc(data.scheduled_start),
        duration_minutes=data.duration_minutes,
        timezone=data.timezone or school.timezone,
    )
    db.add(session)
    await db.flush()
    members = await db.exec(select(GroupMember.student_id).where(GroupMember.group_id == group.id))
    db.add_all(
        SessionParticipant(session_id=session.id, student_id=s, school_id=school.id)
        for s in members.all()
    )
    await db.flush()
    return session


async def get(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, for_update: bool = False
) -> GuidanceSession:
    """The session if the caller may see it; `NotFound` otherwise, whatever the reason."""
    session = await db.get(GuidanceSession, session_id, with_for_update=for_update)
    if session is None or session.school_id != principal.tenant:
        raise NotFound("no such session")
    access.ensure_may_see_session(
        principal,
        counselor_id=session.counselor_id,
        participant_ids=set(await participant_ids(db=db, session=session)),
    )
    return session


async def participant_ids(*, db: AsyncSession, session: GuidanceSession) -> list[uuid.UUID]:
    rows = await db.exec(
        select(SessionParticipant.student_id).where(SessionParticipant.session_id == session.id)
    )
    return list(rows.all())


async def choose_platform(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, choice: PlatformChoice
) -> GuidanceSession:
    session = await get(db=db, principal=principal, session_id=session_id, for_update=True)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    if session.stage != Stage.pre_preparation:
        raise RequirementsUnmet(
            "The platform is chosen in pre_preparation.",
            [
                Unmet(
                    "wrong_stage",
                    "Move the session back to pre_preparation to change its platform "
                    "(this voids consent given for the old platform).",
                )
            ],
        )
    session.platform = choice.provider.value
    session.fallback_platform = choice.fallback_provider.value if choice.fallback_provider else None
    _touch(db, session)
    return session


async def transition(
    *,
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    to: Stage | Phase,
    reason: str | None,
) -> GuidanceSession:
    session = await get(db=db, principal=principal, session_id=session_id, for_update=True)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    if isinstance(to, Phase):
        return await _change_phase(db, principal, session, to, reason)
    facts = await _facts(db, session, reason)
    unmet = refusals(facts, to)
    if unmet:
        raise RequirementsUnmet(
            f"The session cannot move from {session.stage} to {to.value}.", unmet
        )
    previous = session.stage
    session.stage = to.value
    session.phase = Phase.formation.value if to == Stage.implementation else None
    _touch(db, session)
    event = _record(db, principal, session, "stage", previous, to.value, reason)
    await db.flush()
    if to == Stage.preparation:
        # Seam for the ethics gate (issue 3): today the room is asked for on entering
        # preparation, with a clearance that admits nobody but the host.
        await provisioning.request_meeting(db=db, session=session, cause_id=event.id)
    return session


async def _change_phase(
    db: AsyncSession, principal: Principal, session: GuidanceSession, to: Phase, reason: str | None
) -> GuidanceSession:
    current = Phase(session.phase) if session.phase else None
    unmet = phase_refusals(Stage(session.stage), current, to)
    if unmet:
        raise RequirementsUnmet(f"The phase cannot change to {to.value}.", unmet)
    session.phase = to.value
    _touch(db, session)
    _record(db, principal, session, "phase", current.value if current else None, to.value, reason)
    return session


async def _facts(db: AsyncSession, session: GuidanceSession, reason: str | None) -> SessionFacts:
    school = await school_service.get(db=db, school_id=session.school_id)
    members = await participant_ids(db=db, session=session)
    return SessionFacts(
        stage=Stage(session.stage),
        platform=session.platform,  # type: ignore[arg-type]
        has_leader=session.counselor_id is not None,
        member_count=len(members),
        min_members=school.min_group_size,
        max_members=school.max_group_size,
        plan_complete=False,  # the plan (RPL) arrives with issue 3
        attested=False,
        gate_met=False,
        meeting_provisioned=session.meeting_id is not None,
        evaluation_count=0,
        scheduled_start=as_utc(session.scheduled_start),
        now=utcnow(),
        reason=reason,
    )


def _record(
    db: AsyncSession,
    principal: Principal,
    session: GuidanceSession,
    kind: str,
    from_state: str | None,
    to_state: str,
    reason: str | None,
) -> SessionEvent:
    event = SessionEvent(
        school_id=session.school_id,
        session_id=session.id,
        kind=kind,
        actor=principal.subject,
        actor_role=principal.role.value,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
    )
    db.add(event)
    return event


def _touch(db: AsyncSession, session: GuidanceSession) -> None:
    session.updated_at = utcnow()
    db.add(session)


async def history(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> list[SessionEvent]:
    session = await get(db=db, principal=principal, session_id=session_id)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    rows = await db.exec(
        select(SessionEvent)
        .where(SessionEvent.session_id == session.id)
        .order_by(SessionEvent.at, SessionEvent.id)  # type: ignore[arg-type]
    )
    return list(rows.all())


async def meeting_view(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> MeetingView:
    """Staff see the host link and passcode; a member sees only their own gated link."""
    session = await get(db=db, principal=principal, session_id=session_id)
    if session.meeting_id is None or session.meeting_provider is None:
        raise NotFound("the meeting has not been provisioned yet")
    if principal.role in (Role.school_admin, Role.counselor):
        return MeetingView(
            provider=Provider(session.meeting_provider),
            host_url=session.meeting_host_url,
            passcode=session.meeting_passcode,
            members=[],
        )
    # Members get their own gated link once they are cleared (the ethics gate, issue 3).
    raise NotFound("you have no link for this session yet")


def ensure_not_terminal(session: GuidanceSession) -> None:
    if session.stage in (Stage.completed, Stage.cancelled):
        raise Conflict(f"the session is {session.stage}")
