"""The record of a session: observations of each member and their UCA evaluation."""

from __future__ import annotations

import uuid

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal, Role
from services.api.record.models import Evaluation, Observation
from services.api.record.schemas import (
    EvaluationCreate,
    EvaluationPublic,
    ObservationCreate,
    ObservationPublic,
)
from services.api.sessions.models import GuidanceSession
from shared.problems import Forbidden, InvalidInput, RequirementsUnmet, Unmet
from shared.stages import Stage

OBSERVING = (Stage.implementation, Stage.observation, Stage.termination)
EVALUATING = (Stage.observation, Stage.termination)


async def count_evaluations(*, db: AsyncSession, session_id: uuid.UUID) -> int:
    count = await db.exec(
        select(func.count()).select_from(Evaluation).where(Evaluation.session_id == session_id)
    )
    return int(count.one())


def _ensure_stage(session: GuidanceSession, allowed: tuple[Stage, ...], what: str) -> None:
    if Stage(session.stage) not in allowed:
        raise RequirementsUnmet(
            f"{what} cannot be recorded in stage {session.stage}.",
            [
                Unmet(
                    "wrong_stage",
                    f"{what} are recorded in: {', '.join(s.value for s in allowed)}.",
                )
            ],
        )


def _ensure_member(student_id: uuid.UUID, members: list[uuid.UUID]) -> None:
    if student_id not in members:
        raise InvalidInput("student_id", "not a member of this session")


async def observe(
    *,
    db: AsyncSession,
    principal: Principal,
    session: GuidanceSession,
    members: list[uuid.UUID],
    data: ObservationCreate,
) -> Observation:
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    _ensure_stage(session, OBSERVING, "Observations")
    _ensure_member(data.student_id, members)
    observation = Observation(
        school_id=session.school_id,
        session_id=session.id,
        observed_by=principal.subject,
        **data.model_dump(),
    )
    db.add(observation)
    await db.flush()
    return observation


async def evaluate(
    *,
    db: AsyncSession,
    principal: Principal,
    session: GuidanceSession,
    members: list[uuid.UUID],
    data: EvaluationCreate,
) -> Evaluation:
    """The counselor evaluates any member; a member may fill in their own (but no outcome)."""
    if principal.role == Role.student:
        if principal.user_id != data.student_id:
            raise Forbidden("a student fills in their own evaluation only")
        if data.outcome is not None:
            raise Forbidden("the outcome is the counselor's to set")
    else:
        access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    _ensure_stage(session, EVALUATING, "Evaluations")
    _ensure_member(data.student_id, members)
    evaluation = Evaluation(
        school_id=session.school_id,
        session_id=session.id,
        student_id=data.student_id,
        understanding_rating=data.understanding.rating,
        understanding_text=data.understanding.text,
        comfort_rating=data.comfort.rating,
        comfort_text=data.comfort.text,
        action_rating=data.action.rating,
        action_text=data.action.text,
        outcome=data.outcome.value if data.outcome else None,
        evaluated_by=principal.subject,
        evaluated_by_role=principal.role.value,
    )
    db.add(evaluation)
    await db.flush()
    return evaluation


async def observations(
    *, db: AsyncSession, principal: Principal, session: GuidanceSession
) -> list[ObservationPublic]:
    """Notes are sensitive: only the session's counselor and the school admin read them."""
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    rows = await db.exec(
        select(Observation)
        .where(Observation.session_id == session.id)
        .order_by(col(Observation.observed_at))
    )
    return [ObservationPublic.model_validate(o, from_attributes=True) for o in rows.all()]


async def evaluations(
    *, db: AsyncSession, principal: Principal, session: GuidanceSession
) -> list[EvaluationPublic]:
    query = select(Evaluation).where(Evaluation.session_id == session.id)
    if principal.role == Role.student:
        query = query.where(Evaluation.student_id == principal.user_id)
    else:
        access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    rows = await db.exec(query.order_by(col(Evaluation.evaluated_at)))
    return [evaluation_public(e) for e in rows.all()]


def evaluation_public(e: Evaluation) -> EvaluationPublic:
    return EvaluationPublic(
        id=e.id,
        student_id=e.student_id,
        evaluated_by=e.evaluated_by,
        evaluated_by_role=e.evaluated_by_role,
        evaluated_at=e.evaluated_at,
        understanding={"rating": e.understanding_rating, "text": e.understanding_text},
        comfort={"rating": e.comfort_rating, "text": e.comfort_text},
        action={"rating": e.action_rating, "text": e.action_text},
        outcome=e.outcome,
    )
