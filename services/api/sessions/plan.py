"""The service plan (RPL): what the counselor prepares before consent is asked for.

A plan may be saved as a draft; it is complete when every required field is filled, and the
gate says which are still missing.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.sessions.models import SessionPlan
from shared.timeutil import utcnow
from shared.validation import Payload

REQUIRED = ("topic_kind", "topic", "objectives", "evaluation_plan")


class TopicKind(StrEnum):
    assigned = "assigned"  # topik tugas: set by the counselor
    free = "free"  # topik bebas: brought by the members


class PlanUpdate(Payload):
    """The whole plan as it stands; fields left out are empty. Required for a complete plan:
    topic_kind, topic, objectives (at least one), evaluation_plan."""

    topic_kind: TopicKind | None = None
    topic: str | None = Field(default=None, max_length=300, examples=["Memilih jurusan kuliah"])
    objectives: list[str] = Field(
        default_factory=list,
        max_length=20,
        examples=[["Mengenali minat dan bakat", "Menyusun langkah memilih jurusan"]],
    )
    target: str | None = Field(default=None, max_length=1000)
    materials: str | None = Field(default=None, max_length=2000)
    evaluation_plan: str | None = Field(
        default=None, max_length=2000, examples=["Laiseg (UCA) di akhir sesi"]
    )

    @field_validator("topic", "target", "materials", "evaluation_plan")
    @classmethod
    def _blank_is_empty(cls, value: str | None) -> str | None:
        """Whitespace alone fills nothing in: the plan would look complete and say nothing."""
        return value.strip() or None if value is not None else None

    @field_validator("objectives")
    @classmethod
    def _objectives_filled(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v or len(v) > 500 for v in cleaned):
            raise ValueError("each objective is a non-empty text of at most 500 characters")
        return cleaned


# Every field of the plan's content, in order: what a read selects of `SessionPlan`.
FIELDS = tuple(PlanUpdate.model_fields)


class PlanPublic(PlanUpdate):
    complete: bool
    missing: list[str]


def missing_fields(plan: object | None) -> list[str]:
    """The required fields `plan` (a `SessionPlan`, or a read's row of its columns) lacks."""
    if plan is None:
        return list(REQUIRED)
    return [name for name in REQUIRED if not getattr(plan, name)]


async def plan_missing(*, db: AsyncSession, session_id: uuid.UUID) -> list[str]:
    return missing_fields(await db.get(SessionPlan, session_id))


async def save(
    *,
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    school_id: uuid.UUID,
    data: PlanUpdate,
) -> SessionPlan:
    plan = await db.get(SessionPlan, session_id) or SessionPlan(
        session_id=session_id, school_id=school_id, updated_by=principal.subject
    )
    for name, value in data.model_dump(mode="json").items():
        setattr(plan, name, value or ([] if name == "objectives" else None))
    plan.updated_by, plan.updated_at = principal.subject, utcnow()
    db.add(plan)
    await db.flush()
    return plan


def public(plan: object | None) -> dict[str, Any]:
    """The plan as `PlanPublic` shows it; what was saved was cleaned by `PlanUpdate`."""
    missing = missing_fields(plan)
    values = {name: getattr(plan, name) if plan else None for name in FIELDS}
    values["objectives"] = values["objectives"] or []
    return {**values, "complete": not missing, "missing": missing}
