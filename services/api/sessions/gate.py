"""The ethics gate of a session, computed from its records (product.md, "The ethics gate").

For each member: active consent covering the session's platform and the current text version,
and, under the school's guardian-consent age, a guardian's too (the rule itself is
`shared.gate.member_missing`). For the session: the plan complete, the counselor's attestation,
and at least the group minimum of members cleared. Everything unmet is listed, never just the
first thing found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent import service as consent_service
from services.api.consent.models import ConsentTextVersion
from services.api.consent.service import Evidence
from services.api.consent.texts import DEFAULT_VERSION
from services.api.db import PerDatabase, columns, plain_rows, table
from services.api.schools.models import School
from services.api.sessions.models import (
    Attestation,
    GuidanceSession,
    SessionParticipant,
    SessionPlan,
)
from services.api.sessions.plan import FIELDS as PLAN_FIELDS
from services.api.sessions.plan import missing_fields
from services.api.users.models import Guardianship, User
from shared.gate import member_missing
from shared.problems import Unmet
from shared.timeutil import as_utc


class SessionLike(Protocol):
    """What the gate reads of a session: an ORM row, or a Core row of a read."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def school_id(self) -> uuid.UUID: ...
    @property
    def group_id(self) -> uuid.UUID: ...
    @property
    def platform(self) -> str | None: ...
    @property
    def scheduled_start(self) -> datetime: ...
    @property
    def consent_text_version(self) -> str | None: ...


class PlanLike(Protocol):
    """The plan's content (`plan.REQUIRED` and the rest of `PlanUpdate`'s fields)."""

    @property
    def topic_kind(self) -> str | None: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def objectives(self) -> list[str]: ...
    @property
    def target(self) -> str | None: ...
    @property
    def materials(self) -> str | None: ...
    @property
    def evaluation_plan(self) -> str | None: ...


class Member(NamedTuple):
    """A member of a session as the gate and its callers need them: no ORM object (a named
    tuple: a page of the list makes hundreds, and a frozen dataclass is slower to make)."""

    id: uuid.UUID
    name: str
    email: str | None
    locale: str
    birth_date: date | None
    has_guardian: bool


@dataclass(slots=True)
class MemberGate:
    student: Member
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
    plan: PlanLike | None = None

    @property
    def met(self) -> bool:
        return not self.unmet

    @property
    def cleared(self) -> list[MemberGate]:
        return [m for m in self.members if m.cleared]


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def needs_guardian(birth_date: date | None, guardian_consent_age: int, on: datetime) -> bool:
    """Under the school's guardian-consent age on the session's day; unknown age counts as minor."""
    return _minor_on(birth_date, guardian_consent_age, as_utc(on).date())


def _minor_on(birth_date: date | None, guardian_consent_age: int, day: date) -> bool:
    return birth_date is None or age_on(birth_date, day) < guardian_consent_age


# Shared, immutable: a page of the list would otherwise make one of each per member.
PLATFORM_NOT_CHOSEN = Unmet("platform_not_chosen", "No platform has been chosen yet.")
NO_GUARDIAN_ON_FILE = Unmet(
    "no_guardian_on_file",
    "The student is a minor (or their birth date is unknown) and has no guardian on file.",
)


# Each session's context, read with Core (no ORM objects: a read builds none): the school's
# rules and current consent-text version, the plan's content and whether it was attested.
_s, _school, _plan = columns(GuidanceSession), columns(School), columns(SessionPlan)
_text, _attest = columns(ConsentTextVersion), columns(Attestation)
CONTEXT_COLUMNS = (
    _school.guardian_consent_age,
    _school.min_group_size,
    select(_text.version)
    .where(_text.school_id == _s.school_id)
    .order_by(_text.created_at.desc())
    .limit(1)
    .scalar_subquery()
    .label("current_text_version"),
    _plan.session_id.label("plan_session_id"),
    *(getattr(_plan, name) for name in PLAN_FIELDS),
    _attest.session_id.label("attested_session_id"),
)


def with_context(*columns: Any) -> Select[Any]:
    """SELECT `columns` and each session's context FROM the sessions (add the WHERE)."""
    return (
        select(*columns, *CONTEXT_COLUMNS)
        .select_from(table(GuidanceSession))
        .join(table(School), _school.id == _s.school_id)
        .outerjoin(table(SessionPlan), _plan.session_id == _s.id)
        .outerjoin(table(Attestation), _attest.session_id == _s.id)
    )


_CONTEXTS = PerDatabase.build(lambda among: with_context(_s.id).where(among(_s.id, "ids")))

_has_guardian = (
    select(columns(Guardianship).id)
    .where(columns(Guardianship).student_id == columns(User).id)
    .exists()
    .label("has_guardian")
)
_u, _p = columns(User), columns(SessionParticipant)
_MEMBERS = PerDatabase.build(
    lambda among: (
        select(_p.session_id, _u.id, _u.name, _u.email, _u.locale, _u.birth_date, _has_guardian)
        .select_from(table(SessionParticipant))
        .join(table(User), _u.id == _p.student_id)
        .where(among(_p.session_id, "ids"))
        .order_by(_u.name, _u.id)
    )
)


async def evaluate(*, db: AsyncSession, session: SessionLike) -> SessionGate:
    return (await evaluate_many(db=db, sessions=[session]))[session.id]


async def evaluate_many(
    *, db: AsyncSession, sessions: Sequence[SessionLike]
) -> dict[uuid.UUID, SessionGate]:
    """The gates of sessions a change has loaded, read in its transaction."""
    return await gates_of(await db.connection(), sessions)


async def gates_of(
    connection: AsyncConnection,
    sessions: Sequence[SessionLike],
    contexts: Mapping[uuid.UUID, Any] | None = None,
) -> dict[uuid.UUID, SessionGate]:
    """The gates of several sessions (a page of a list) in a fixed number of queries.

    `contexts`: each session's row of `with_context`, when the caller read the sessions with
    it (a read: one query fewer); otherwise they are read here.
    """
    if not sessions:
        return {}
    ids = [s.id for s in sessions]
    if contexts is None:
        rows = plain_rows(await connection.execute(_CONTEXTS.on(connection), {"ids": ids}))
        contexts = {row.id: row for row in rows}
    members: dict[uuid.UUID, list[Member]] = {i: [] for i in ids}
    found = await connection.execute(_MEMBERS.on(connection), {"ids": ids})
    # Unpacked in _MEMBERS' column order: a Row's column by name costs about 1 µs.
    for session_id, student_id, name, email, locale, birth_date, guardian in found:
        members[session_id].append(
            Member(student_id, name, email, locale, birth_date, bool(guardian))
        )
    wanted: dict[uuid.UUID, set[uuid.UUID]] = {s.group_id: set() for s in sessions}
    for s in sessions:
        wanted[s.group_id].update(m.id for m in members[s.id])
    evidence = await consent_service.evidence_of_groups(
        connection, {g: list(v) for g, v in wanted.items()}
    )
    return _evaluate_page(sessions, contexts, members, evidence)


def _evaluate_page(
    sessions: Sequence[SessionLike],
    contexts: Mapping[uuid.UUID, Any],
    members: Mapping[uuid.UUID, list[Member]],
    evidence: Mapping[uuid.UUID, Mapping[uuid.UUID, list[Evidence]]],
) -> dict[uuid.UUID, SessionGate]:
    """The gates of sessions whose records were read: the rules alone, no database."""
    gates = {}
    for session in sessions:
        context = contexts[session.id]
        # The version consent was asked with; before anyone is asked, the school's current one.
        version = session.consent_text_version or context.current_text_version or DEFAULT_VERSION
        per_student = evidence[session.group_id]
        day = as_utc(session.scheduled_start).date()
        age, platform = context.guardian_consent_age, session.platform
        gated = [
            _member(
                m, _minor_on(m.birth_date, age, day), platform, per_student.get(m.id, []), version
            )
            for m in members[session.id]
        ]
        plan = context if context.plan_session_id is not None else None
        unmet = _session_unmet(
            gated, plan, context.attested_session_id is not None, context.min_group_size
        )
        gates[session.id] = SessionGate(members=gated, unmet=unmet, text_version=version, plan=plan)
    return gates


def _member(
    student: Member,
    minor: bool,
    platform: str | None,
    evidence: list[Evidence],
    text_version: str,
) -> MemberGate:
    if platform is None:
        return MemberGate(student, minor, evidence, [PLATFORM_NOT_CHOSEN])
    missing = member_missing(
        evidence, platform=platform, text_version=text_version, needs_guardian=minor
    )
    if minor and not student.has_guardian:
        missing.append(NO_GUARDIAN_ON_FILE)
    return MemberGate(student, minor, evidence, missing)


def _session_unmet(
    members: list[MemberGate], plan: PlanLike | None, attested: bool, min_group_size: int
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
    if cleared < min_group_size:
        unmet.append(
            Unmet(
                "not_enough_members_cleared",
                f"{cleared} of {len(members)} members are cleared; at least "
                f"{min_group_size} are needed.",
            )
        )
    return unmet
