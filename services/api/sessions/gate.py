"""The ethics gate of a session, computed from its records (product.md, "The ethics gate").

For each member: active consent covering the session's platform and the current text version,
and, under the school's guardian-consent age, a guardian's too (the rule itself is
`shared.gate.member_missing`). For the session: the plan complete, the counselor's attestation,
and at least the group minimum of members cleared. Everything unmet is listed, never just the
first thing found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent import service as consent_service
from services.api.consent.models import ConsentTextVersion
from services.api.consent.service import Evidence
from services.api.consent.texts import DEFAULT_VERSION
from services.api.schools.models import School
from services.api.sessions.models import (
    Attestation,
    GuidanceSession,
    SessionParticipant,
    SessionPlan,
)
from services.api.sessions.plan import missing_fields
from services.api.users.models import Guardianship, User
from shared.gate import member_missing
from shared.problems import Unmet
from shared.timeutil import as_utc


@dataclass
class MemberGate:
    student: User
    needs_guardian: bool
    consents: list[Evidence]
    missing: list[Unmet] = field(default_factory=list)

    @property
    def cleared(self) -> bool:
        return not self.missing


@dataclass
class SessionGate:
    members: list[MemberGate]
    unmet: list[Unmet]
    text_version: str
    # Read for the gate; the session's view shows it too.
    plan: SessionPlan | None = None

    @property
    def met(self) -> bool:
        return not self.unmet

    @property
    def cleared(self) -> list[MemberGate]:
        return [m for m in self.members if m.cleared]


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def needs_guardian(student: User, school: School, on: datetime) -> bool:
    """Under the school's guardian-consent age on the session's day; unknown age counts as minor."""
    if student.birth_date is None:
        return True
    return age_on(student.birth_date, as_utc(on).date()) < school.guardian_consent_age


async def evaluate(*, db: AsyncSession, session: GuidanceSession) -> SessionGate:
    return (await evaluate_many(db=db, sessions=[session]))[session.id]


async def evaluate_many(
    *, db: AsyncSession, sessions: list[GuidanceSession], new: bool = False
) -> dict[uuid.UUID, SessionGate]:
    """The gates of several sessions (a page of a list) in a fixed number of queries.

    `new`: the sessions were created in this transaction, so they have no plan or attestation.
    """
    records = await _Records.load(db, sessions, new=new)
    gates = {}
    for session in sessions:
        school = records.schools[session.school_id]
        students = records.students[session.id]
        evidence = records.evidence[session.group_id]
        # The version consent was asked with; before anyone is asked, the school's current one.
        version = session.consent_text_version or records.versions[school.id]
        members = [
            _member(
                s, school, session, evidence.get(s.id, []), s.id in records.with_guardian, version
            )
            for s in students
        ]
        plan = records.plans.get(session.id)
        unmet = _session_unmet(session, school, members, plan, session.id in records.attested)
        gates[session.id] = SessionGate(
            members=members, unmet=unmet, text_version=version, plan=plan
        )
    return gates


@dataclass
class _Records:
    """Everything the gates of some sessions are computed from, read once for all of them."""

    schools: dict[uuid.UUID, School]
    students: dict[uuid.UUID, list[User]]
    evidence: dict[uuid.UUID, dict[uuid.UUID, list[Evidence]]]
    with_guardian: set[uuid.UUID]
    versions: dict[uuid.UUID, str]
    plans: dict[uuid.UUID, SessionPlan]
    attested: set[uuid.UUID]

    @classmethod
    async def load(cls, db: AsyncSession, sessions: list[GuidanceSession], new: bool) -> _Records:
        ids = [s.id for s in sessions]
        schools, versions = await _schools_and_versions(db, {s.school_id for s in sessions})
        students, with_guardian = await _students(db, sessions)
        wanted: dict[uuid.UUID, set[uuid.UUID]] = {s.group_id: set() for s in sessions}
        for s in sessions:
            wanted[s.group_id].update(u.id for u in students[s.id])
        plans, attested = ({}, set()) if new else await _plans_and_attestations(db, ids)
        return cls(
            schools=schools,
            students=students,
            evidence=await consent_service.evidence_of_groups(
                db=db, wanted={g: list(v) for g, v in wanted.items()}
            ),
            with_guardian=with_guardian,
            versions=versions,
            plans=plans,
            attested=attested,
        )


async def _schools_and_versions(
    db: AsyncSession, school_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, School], dict[uuid.UUID, str]]:
    """The schools with their current consent-text version, in one query."""
    newest = (
        select(ConsentTextVersion.version)
        .where(ConsentTextVersion.school_id == School.id)
        .order_by(col(ConsentTextVersion.created_at).desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = (await db.exec(select(School, newest).where(col(School.id).in_(school_ids)))).all()
    assert len(rows) == len(school_ids)
    return (
        {school.id: school for school, _ in rows},
        {school.id: version or DEFAULT_VERSION for school, version in rows},
    )


async def _students(
    db: AsyncSession, sessions: list[GuidanceSession]
) -> tuple[dict[uuid.UUID, list[User]], set[uuid.UUID]]:
    """Each session's members by name, and which of them have a guardian on file."""
    has_guardian = (
        select(Guardianship.id).where(Guardianship.student_id == User.id).exists().label("g")
    )
    rows = await db.exec(
        select(SessionParticipant.session_id, User, has_guardian)
        .join(User, col(User.id) == SessionParticipant.student_id)
        .where(col(SessionParticipant.session_id).in_([s.id for s in sessions]))
        .order_by(User.name)
    )
    students: dict[uuid.UUID, list[User]] = {s.id: [] for s in sessions}
    with_guardian = set()
    for session_id, user, guarded in rows.all():
        students[session_id].append(user)
        if guarded:
            with_guardian.add(user.id)
    return students, with_guardian


async def _plans_and_attestations(
    db: AsyncSession, ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, SessionPlan], set[uuid.UUID]]:
    rows = await db.exec(
        select(GuidanceSession.id, SessionPlan, Attestation.session_id)
        .join(SessionPlan, col(SessionPlan.session_id) == GuidanceSession.id, isouter=True)
        .join(Attestation, col(Attestation.session_id) == GuidanceSession.id, isouter=True)
        .where(col(GuidanceSession.id).in_(ids))
    )
    plans, attested = {}, set()
    for session_id, plan, attested_id in rows.all():
        if plan is not None:
            plans[session_id] = plan
        if attested_id is not None:
            attested.add(session_id)
    return plans, attested


def _member(
    student: User,
    school: School,
    session: GuidanceSession,
    evidence: list[Evidence],
    has_guardian: bool,
    text_version: str,
) -> MemberGate:
    minor = needs_guardian(student, school, session.scheduled_start)
    member = MemberGate(student=student, needs_guardian=minor, consents=evidence)
    if session.platform is None:
        member.missing.append(Unmet("platform_not_chosen", "No platform has been chosen yet."))
        return member
    member.missing = member_missing(
        evidence,
        platform=session.platform,
        text_version=text_version,
        needs_guardian=minor,
    )
    if minor and not has_guardian:
        member.missing.append(
            Unmet(
                "no_guardian_on_file",
                "The student is a minor (or their birth date is unknown) "
                "and has no guardian on file.",
            )
        )
    return member


def _session_unmet(
    session: GuidanceSession,
    school: School,
    members: list[MemberGate],
    plan: SessionPlan | None,
    attested: bool,
) -> list[Unmet]:
    unmet = [
        Unmet("plan_incomplete", f"The service plan (RPL) lacks: {', '.join(missing)}.")
        for missing in [missing_fields(plan)]
        if missing
    ]
    if not attested:
        unmet.append(
            Unmet(
                "attestation_missing",
                "The counselor has not attested that the code of ethics "
                "and the method were explained.",
            )
        )
    cleared = sum(1 for m in members if m.cleared)
    if cleared < school.min_group_size:
        unmet.append(
            Unmet(
                "not_enough_members_cleared",
                f"{cleared} of {len(members)} members are cleared; at least "
                f"{school.min_group_size} are needed.",
            )
        )
    return unmet
