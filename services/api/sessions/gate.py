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
from services.api.consent.service import Evidence
from services.api.consent.wording import current_version
from services.api.schools.models import School
from services.api.sessions.models import Attestation, GuidanceSession, SessionParticipant
from services.api.sessions.plan import plan_missing
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
    school = await db.get(School, session.school_id)
    assert school is not None
    students = list(
        (
            await db.exec(
                select(User)
                .join(SessionParticipant, col(SessionParticipant.student_id) == User.id)
                .where(SessionParticipant.session_id == session.id)
                .order_by(User.name)
            )
        ).all()
    )
    ids = [s.id for s in students]
    evidence = await consent_service.evidence(db=db, group_id=session.group_id, student_ids=ids)
    with_guardian = await _students_with_guardians(db, ids)
    # The version consent was asked with; before anyone is asked, the school's current one.
    version = session.consent_text_version or await current_version(db, school.id)
    members = [
        _member(s, school, session, evidence.get(s.id, []), s.id in with_guardian, version)
        for s in students
    ]
    unmet = await _session_unmet(db, session, school, members)
    return SessionGate(members=members, unmet=unmet, text_version=version)


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


async def _students_with_guardians(db: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await db.exec(
        select(Guardianship.student_id).where(col(Guardianship.student_id).in_(ids)).distinct()
    )
    return set(rows.all())


async def _session_unmet(
    db: AsyncSession, session: GuidanceSession, school: School, members: list[MemberGate]
) -> list[Unmet]:
    unmet = [
        Unmet("plan_incomplete", f"The service plan (RPL) lacks: {', '.join(missing)}.")
        for missing in [await plan_missing(db=db, session_id=session.id)]
        if missing
    ]
    if await db.get(Attestation, session.id) is None:
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
