"""Sessions: planning, the stage machine's moves, and the record of every change."""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, bindparam, insert
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal, Role
from services.api.consent import requests as consent_requests
from services.api.consent.requests import ConsentAsker
from services.api.db import columns, table
from services.api.groups.models import Group, GroupMember
from services.api.record.service import count_evaluations
from services.api.schools import service as school_service
from services.api.schools.models import School
from services.api.sessions import changes, locks, provisioning, reminders
from services.api.sessions.gate import evaluate
from services.api.sessions.models import GuidanceSession, SessionEvent, SessionParticipant
from services.api.sessions.schemas import (
    MeetingMemberLink,
    MeetingView,
    PlatformChoice,
    SessionCreate,
    SessionUpdate,
)
from shared.db import AFTER_ROLLBACK
from shared.problems import Conflict, NotFound, RequirementsUnmet, Unmet
from shared.stages import Phase, Provider, SessionFacts, Stage, phase_refusals, refusals
from shared.timeutil import as_utc, utcnow

_g, _school = columns(Group), columns(School)
_GROUP = (
    core_select(_g.id, _g.counselor_id, _school.timezone)
    .select_from(table(Group))
    .join(table(School), _school.id == _g.school_id)
    .where(_g.id == bindparam("group_id"), _g.school_id == bindparam("tenant"))
)
# Prebuilt, as the other statements here: built per request, the insert's values and its cache
# key were about a tenth of a create's CPU. Columns not named take the model's defaults.
_NEW_SESSION_COLUMNS = (
    "id",
    "school_id",
    "group_id",
    "counselor_id",
    "title",
    "scheduled_start",
    "duration_minutes",
    "timezone",
)
_NEW_SESSION = insert(table(GuidanceSession)).values(
    {name: bindparam(name) for name in _NEW_SESSION_COLUMNS}
)
_m = columns(GroupMember)
_MEMBERS = insert(table(SessionParticipant)).from_select(
    ["session_id", "student_id", "school_id"],
    core_select(
        bindparam("session_id", type_=Uuid()), _m.student_id, bindparam("school_id", type_=Uuid())
    ).where(_m.group_id == bindparam("group_id")),
)


async def create(*, db: AsyncSession, principal: Principal, data: SessionCreate) -> uuid.UUID:
    """Plan a session for a group; its members are copied as they are now. Its id."""
    connection = await db.connection()
    group = (
        await connection.execute(_GROUP, {"group_id": data.group_id, "tenant": principal.tenant})
    ).first()
    if group is None:
        raise NotFound("no such group")
    access.ensure_may_see_group(principal, group.counselor_id)
    access.ensure_may_run_session(principal, counselor_id=group.counselor_id)
    session_id = uuid.uuid4()
    # Core, not the ORM: nothing here needs an object.
    await connection.execute(
        _NEW_SESSION,
        {
            "id": session_id,
            "school_id": principal.tenant,
            "group_id": group.id,
            "counselor_id": group.counselor_id,
            "title": data.title,
            "scheduled_start": as_utc(data.scheduled_start),
            "duration_minutes": data.duration_minutes,
            "timezone": data.timezone or group.timezone,
        },
    )
    # The members' snapshot is copied inside the database: no round trip to read them first.
    await connection.execute(
        _MEMBERS, {"session_id": session_id, "school_id": principal.tenant, "group_id": group.id}
    )
    return session_id


async def get(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, for_update: bool = False
) -> GuidanceSession:
    """The session if the caller may see it; `NotFound` otherwise, whatever the reason."""
    if for_update:
        session = await locks.locked(db, session_id)
    else:
        session = await db.get(GuidanceSession, session_id)
    if session is None or session.school_id != principal.tenant:
        raise NotFound("no such session")
    # Only a student's access depends on the members: staff are not charged the query.
    members = (
        await participant_ids(db=db, session=session) if principal.role == Role.student else []
    )
    access.ensure_may_see_session(
        principal, counselor_id=session.counselor_id, participant_ids=set(members)
    )
    return session


async def participant_ids(*, db: AsyncSession, session: GuidanceSession) -> list[uuid.UUID]:
    rows = await db.exec(
        select(SessionParticipant.student_id).where(SessionParticipant.session_id == session.id)
    )
    return list(rows.all())


async def choose_platform(
    *,
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    choice: PlatformChoice,
    asker: ConsentAsker,
) -> GuidanceSession:
    """Choose the medium; if consent was asked for another platform, everyone is asked again."""
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
    changed = (session.platform, session.fallback_platform) != (
        choice.provider.value,
        choice.fallback_provider.value if choice.fallback_provider else None,
    )
    session.platform = choice.provider.value
    session.fallback_platform = choice.fallback_provider.value if choice.fallback_provider else None
    _touch(db, session)
    if changed:
        await db.flush()
        await consent_requests.ask_again_if_asked(db=db, session=session, asker=asker)
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
        raise refusal(
            db,
            principal,
            session,
            kind="refusal",
            target=to.value,
            unmet=unmet,
            detail=f"The session cannot move from {session.stage} to {to.value}.",
        )
    previous = session.stage
    session.stage = to.value
    session.phase = Phase.formation.value if to == Stage.implementation else None
    _touch(db, session)
    event = _record(db, principal, session, "stage", previous, to.value, reason)
    await db.flush()
    await _after_move(db, session, Stage(previous), to, reason or "", event.id)
    return session


async def _after_move(
    db: AsyncSession,
    session: GuidanceSession,
    previous: Stage,
    to: Stage,
    reason: str,
    event_id: uuid.UUID,
) -> None:
    if to == Stage.preparation and previous == Stage.pre_preparation:
        await provisioning.reconcile(db=db, session=session)
    elif to == Stage.pre_preparation:
        # Changing the platform: the meeting goes, and consent for the old platform no longer
        # covers this session (it names that platform); new consent is asked for again.
        await provisioning.cancel_meetings(db=db, session=session, reason="platform change")
        await reminders.supersede(db=db, session=session)  # their links are gone
    elif to == Stage.cancelled:
        await changes.cancelled(db=db, session=session, reason=reason, change_id=event_id)
    elif to == Stage.completed:
        await changes.completed(db=db, session=session)


async def reschedule(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, data: SessionUpdate
) -> GuidanceSession:
    """Move or rename the session; the provider's meeting follows and everyone is told."""
    session = await get(db=db, principal=principal, session_id=session_id, for_update=True)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    ensure_not_terminal(session)
    changed = []
    if data.scheduled_start is not None:
        session.scheduled_start = as_utc(data.scheduled_start)
        changed.append(f"start {session.scheduled_start.isoformat()}")
    if data.duration_minutes is not None:
        session.duration_minutes = data.duration_minutes
        changed.append(f"duration {data.duration_minutes} min")
    if data.title is not None:
        session.title = data.title
        changed.append("title")
    if not changed:
        return session
    _touch(db, session)
    event = _record(
        db, principal, session, "schedule", None, session.stage, "changed: " + ", ".join(changed)
    )
    await db.flush()
    await changes.rescheduled(db=db, session=session, change_id=event.id)
    return session


async def cancel(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, reason: str
) -> GuidanceSession:
    return await transition(
        db=db, principal=principal, session_id=session_id, to=Stage.cancelled, reason=reason
    )


async def _change_phase(
    db: AsyncSession, principal: Principal, session: GuidanceSession, to: Phase, reason: str | None
) -> GuidanceSession:
    current = Phase(session.phase) if session.phase else None
    unmet = phase_refusals(Stage(session.stage), current, to)
    if unmet:
        raise refusal(
            db,
            principal,
            session,
            kind="refusal",
            target=to.value,
            unmet=unmet,
            detail=f"The phase cannot change to {to.value}.",
        )
    session.phase = to.value
    _touch(db, session)
    _record(db, principal, session, "phase", current.value if current else None, to.value, reason)
    return session


async def _facts(db: AsyncSession, session: GuidanceSession, reason: str | None) -> SessionFacts:
    school = await school_service.get(db=db, school_id=session.school_id)
    members = await participant_ids(db=db, session=session)
    gate = await evaluate(db=db, session=session)
    unmet = {u.code for u in gate.unmet}
    return SessionFacts(
        stage=Stage(session.stage),
        platform=session.platform,  # type: ignore[arg-type]
        has_leader=session.counselor_id is not None,
        member_count=len(members),
        min_members=school.min_group_size,
        max_members=school.max_group_size,
        plan_complete="plan_incomplete" not in unmet,
        attested="attestation_missing" not in unmet,
        gate_met=gate.met,
        meeting_provisioned=session.meeting_id is not None,
        evaluation_count=await count_evaluations(db=db, session_id=session.id),
        scheduled_start=as_utc(session.scheduled_start),
        now=utcnow(),
        reason=reason,
    )


def refusal(
    db: AsyncSession,
    principal: Principal,
    session: GuidanceSession,
    *,
    kind: str,
    target: str,
    detail: str,
    unmet: list[Unmet],
) -> RequirementsUnmet:
    """The error to raise for a refused decision; its record is kept despite the rollback."""
    event = SessionEvent(
        school_id=session.school_id,
        session_id=session.id,
        kind=kind,
        actor=principal.subject,
        actor_role=principal.role.value,
        from_state=session.stage,
        to_state=target,
        reason="refused: " + ", ".join(u.code for u in unmet),
    )
    engine = db.bind

    async def keep() -> None:
        async with AsyncSession(engine) as fresh:
            fresh.add(event)
            await fresh.commit()

    db.info.setdefault(AFTER_ROLLBACK, []).append(keep)
    return RequirementsUnmet(detail, unmet)


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
    rows = await db.exec(
        select(SessionParticipant).where(
            SessionParticipant.session_id == session.id,
            col(SessionParticipant.join_url).is_not(None),
        )
    )
    links = {p.student_id: p.join_url for p in rows.all() if p.join_url}
    provider = Provider(session.meeting_provider)
    if principal.role in (Role.school_admin, Role.counselor):
        return MeetingView(
            provider=provider,
            host_url=session.meeting_host_url,
            passcode=session.meeting_passcode,
            members=[MeetingMemberLink(student_id=s, join_url=u) for s, u in links.items()],
        )
    own = links.get(principal.user_id) if principal.user_id else None
    if own is None:
        raise NotFound("you have no link for this session: your consent is not (yet) complete")
    return MeetingView(provider=provider, join_url=own)


def ensure_not_terminal(session: GuidanceSession) -> None:
    if session.stage in (Stage.completed, Stage.cancelled):
        raise Conflict(f"the session is {session.stage}")
