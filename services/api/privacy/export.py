"""What Lingkar keeps about a person, for them to see (UU 27/2022 Art. 32; GDPR Art. 15).

A student sees their record, their guardians, the consents given for them, their sessions and
the evaluations and observations about them. The counselor's free-text observation notes are
withheld here (they are the counselor's working notes; the school decides on a request for
them). A guardian sees their record, the students they are guardian of, and the consents they
gave.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal, Role
from services.api.consent.models import Consent, ConsentWithdrawal
from services.api.record.models import Evaluation, Observation
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import Guardianship, User
from shared.problems import Forbidden, NotFound


async def export(*, db: AsyncSession, principal: Principal) -> dict[str, Any]:
    if principal.user_id is None or principal.role not in (Role.student, Role.guardian):
        raise Forbidden("the export is for a student or a guardian, about themselves")
    person = await db.get(User, principal.user_id)
    if person is None or person.school_id != principal.tenant:
        raise NotFound("no such person")
    data: dict[str, Any] = {"person": _plain(person), "consents": await _consents(db, person)}
    if principal.role == Role.student:
        data.update(await _student_records(db, person))
    else:
        wards = await db.exec(
            select(User)
            .join(Guardianship, col(Guardianship.student_id) == User.id)
            .where(Guardianship.guardian_id == person.id)
        )
        data["guardian_of"] = [{"id": str(w.id), "name": w.name} for w in wards.all()]
    return data


async def _consents(db: AsyncSession, person: User) -> list[dict[str, Any]]:
    rows = await db.exec(
        select(Consent, ConsentWithdrawal)
        .join(ConsentWithdrawal, col(ConsentWithdrawal.consent_id) == Consent.id, isouter=True)
        .where(or_(Consent.student_id == person.id, Consent.signer_id == person.id))
        .order_by(col(Consent.decided_at))
    )
    return [
        {**_plain(c), "withdrawn_at": w.withdrawn_at.isoformat() if w else None}
        for c, w in rows.all()
    ]


async def _student_records(db: AsyncSession, student: User) -> dict[str, Any]:
    sessions = await db.exec(
        select(GuidanceSession)
        .join(SessionParticipant, col(SessionParticipant.session_id) == GuidanceSession.id)
        .where(SessionParticipant.student_id == student.id)
    )
    guardians = await db.exec(
        select(User, Guardianship.relationship)
        .join(Guardianship, col(Guardianship.guardian_id) == User.id)
        .where(Guardianship.student_id == student.id)
    )
    evaluations = await db.exec(select(Evaluation).where(Evaluation.student_id == student.id))
    observations = await db.exec(select(Observation).where(Observation.student_id == student.id))
    return {
        "guardians": [
            {"id": str(g.id), "name": g.name, "relationship": r} for g, r in guardians.all()
        ],
        "sessions": [
            {
                "id": str(s.id),
                "title": s.title,
                "stage": s.stage,
                "scheduled_start": s.scheduled_start.isoformat(),
            }
            for s in sessions.all()
        ],
        "evaluations": [_plain(e) for e in evaluations.all()],
        "observations": [
            {**_plain(o, exclude={"notes"}), "notes_withheld": o.notes is not None}
            for o in observations.all()
        ],
    }


def _plain(row: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    return dict(row.model_dump(mode="json", exclude=exclude or set()))
