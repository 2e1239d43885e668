"""Stage 2, preparation: the plan, the counselor's attestation, consent, and the meeting.

Each change here can move the gate, so each ends with `provisioning.reconcile`: the meeting is
asked for the moment the gate is first met, and links follow each member's clearance.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal, Role
from services.api.consent import requests as consent_requests
from services.api.consent import service as consent_service
from services.api.consent.models import Consent
from services.api.groups.models import GroupMember
from services.api.sessions import history, locks, notify, plan, provisioning
from services.api.sessions.gate import SessionGate, evaluate
from services.api.sessions.models import Attestation, GuidanceSession
from services.api.sessions.service import ensure_not_terminal, get, participant_ids, refusal
from services.api.users.models import Guardianship, User
from shared.contracts.notifications import Event
from shared.problems import Forbidden, InvalidInput, NotFound, Unmet
from shared.stages import Stage


async def _editable(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> GuidanceSession:
    session = await get(db=db, principal=principal, session_id=session_id, for_update=True)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    ensure_not_terminal(session)
    return session


async def save_plan(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID, data: plan.PlanUpdate
) -> GuidanceSession:
    session = await _editable(db, principal, session_id)
    await plan.save(
        db=db, principal=principal, session_id=session.id, school_id=session.school_id, data=data
    )
    await provisioning.reconcile(db=db, session=session)
    return session


async def attest(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> tuple[Attestation, bool]:
    """Record the attestation once; asking again returns the first (False: not new)."""
    session = await _editable(db, principal, session_id)
    existing = await db.get(Attestation, session.id)
    if existing:
        return existing, False
    attestation = Attestation(
        session_id=session.id,
        school_id=session.school_id,
        attested_by=principal.subject,
        attested_by_role=principal.role.value,
    )
    db.add(attestation)
    await db.flush()
    await provisioning.reconcile(db=db, session=session)
    return attestation, True


async def provision_now(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> GuidanceSession:
    """Ask for the meeting now; refused, with everything unmet, when the gate is not met."""
    session = await _editable(db, principal, session_id)
    gate = await evaluate(db=db, session=session)
    unmet = list(gate.unmet)
    if session.stage != Stage.preparation:
        unmet.insert(0, Unmet("wrong_stage", "Meetings are provisioned during preparation."))
    if unmet:
        raise refusal(
            db,
            principal,
            session,
            kind="gate",
            target="refused",
            unmet=unmet,
            detail="The meeting cannot be provisioned yet.",
        )
    if session.meeting_requested_at is None:
        await provisioning.request_meeting(db=db, session=session, gate=gate, by=principal)
    return session


async def _live_sessions_of_group(db: AsyncSession, group_id: uuid.UUID) -> list[GuidanceSession]:
    rows = await db.exec(
        select(GuidanceSession)
        .where(
            GuidanceSession.group_id == group_id,
            col(GuidanceSession.stage).in_([s.value for s in provisioning.LIVE_STAGES]),
        )
        .order_by(col(GuidanceSession.scheduled_start))
    )
    return list(rows.all())


async def member_changed(*, db: AsyncSession, student_id: uuid.UUID) -> None:
    """A student's gate inputs changed (a guardian added): their live sessions follow."""
    groups = select(GroupMember.group_id).where(GroupMember.student_id == student_id)
    rows = await db.exec(
        select(GuidanceSession).where(
            col(GuidanceSession.group_id).in_(groups),
            col(GuidanceSession.stage).in_([s.value for s in provisioning.LIVE_STAGES]),
        )
    )
    sessions = list(rows.all())
    await locks.lock(db, [s.id for s in sessions])
    for session in sessions:
        await db.refresh(session)
        await provisioning.reconcile(db=db, session=session)


async def consent_recorded(*, db: AsyncSession, consent: Consent) -> None:
    """After a decision: every live session of the group follows the gate (links, meeting)."""
    sessions = await _live_sessions_of_group(db, consent.group_id)
    await locks.lock(db, [s.id for s in sessions])
    for session in sessions:
        await db.refresh(session)
        await provisioning.reconcile(db=db, session=session)


async def withdraw(
    *,
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    reason: str | None,
    only_consent: uuid.UUID | None = None,
) -> SessionGate:
    """Withdraw consent for a member: by the student, a guardian, or staff on their word.

    A student takes back their own assent, a guardian their own consent, staff everything
    given for the member; a consent link takes back exactly the consent it gave. Consent is
    for the group, so every live session of the group follows at once: the member's links are
    gone in this transaction and the meetings service is told; a session that falls below its
    minimum is blocked, and each session's counselor is told what is now unmet.
    """
    session = await db.get(GuidanceSession, session_id)
    if session is None or session.school_id != principal.tenant:
        raise NotFound("no such session")
    # Every live session of the group changes: lock them all, in order, then read afresh.
    await locks.lock(
        db, [s.id for s in await _live_sessions_of_group(db, session.group_id)] + [session.id]
    )
    await db.refresh(session)
    await _ensure_may_withdraw(db, principal, session, student_id)
    staff = principal.role in (Role.school_admin, Role.counselor)
    active = [
        c
        for c in await consent_service.active_for(
            db=db, group_id=session.group_id, student_id=student_id
        )
        if (only_consent is None or c.id == only_consent)
        and (staff or c.signer_id == principal.user_id)
    ]
    if not active:
        raise NotFound("there is no active consent of yours to withdraw for this member")
    affected = await _live_sessions_of_group(db, session.group_id)
    before = {s.id: (await evaluate(db=db, session=s)).met for s in affected}
    withdrawals = await consent_service.withdraw(
        db=db, principal=principal, consents=active, reason=reason
    )
    told = ",".join(sorted(str(w.id) for w in withdrawals))
    for live in affected:
        gate = await provisioning.reconcile(db=db, session=live)
        blocked = before[live.id] and not gate.met
        if blocked:
            history.record(
                db,
                live,
                kind="gate",
                from_state="met",
                to="blocked",
                by=principal,
                reason="; ".join(u.code for u in gate.unmet),
            )
        await _tell_counselor(db, live, student_id, gate, blocked=blocked, key=told)
    return await evaluate(db=db, session=session)


async def _ensure_may_withdraw(
    db: AsyncSession, principal: Principal, session: GuidanceSession, student_id: uuid.UUID
) -> None:
    if student_id not in await participant_ids(db=db, session=session):
        raise InvalidInput("student_id", "not a member of this session")
    if principal.role in (Role.school_admin, Role.counselor):
        access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
        return
    if principal.role == Role.student and principal.user_id == student_id:
        return
    if principal.role == Role.guardian:
        link = (
            await db.exec(
                select(Guardianship).where(
                    Guardianship.student_id == student_id,
                    Guardianship.guardian_id == principal.user_id,
                )
            )
        ).first()
        if link:
            return
    raise Forbidden("only the student, their guardian, or the counselor may withdraw")


async def _tell_counselor(
    db: AsyncSession,
    session: GuidanceSession,
    student_id: uuid.UUID,
    gate: SessionGate,
    *,
    blocked: bool,
    key: str,
) -> None:
    counselor = await db.get(User, session.counselor_id)
    student = await db.get(User, student_id)
    assert counselor is not None and student is not None
    await notify.send(
        db=db,
        session=session,
        event=Event.consent_withdrawn,
        to=[counselor],
        key=f"withdrawn:{session.id}:{hashlib.sha256(key.encode()).hexdigest()[:24]}",
        data=notify.session_data(
            session,
            student_id=str(student.id),
            student_name=student.name,
            blocked=blocked,
            unmet=[u.message for u in gate.unmet],
        ),
    )


async def ask_for_consent(
    *,
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    asker: consent_requests.ConsentAsker,
) -> consent_requests.Asked:
    """The session's counselor (or the school admin) sends everyone their consent request."""
    session = await get(db=db, principal=principal, session_id=session_id, for_update=True)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    return await consent_requests.ask(db=db, session=session, asker=asker)


async def consent_records(
    *, db: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> list[consent_service.ConsentPublicRow]:
    """Every consent record of the session's group: for its counselor and the admin only."""
    session = await get(db=db, principal=principal, session_id=session_id)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    return await consent_service.records_of_group(db=db, group_id=session.group_id)
