from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field


class Observation(ApiTable, table=True):
    """The counselor's assessment of one member (stage 4, pengamatan). Notes are sensitive."""

    __tablename__ = "observation"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", index=True)
    student_id: uuid.UUID = Field(foreign_key="user_account.id")
    participation: int
    respects_others: int
    seriousness: int
    notes: str | None = Field(default=None, max_length=4000)
    observed_by: str = Field(max_length=100)
    observed_at: datetime = created_at_field()


class Evaluation(ApiTable, table=True):
    """The immediate evaluation (laiseg) of one member in UCA form, and the outcome."""

    __tablename__ = "evaluation"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", index=True)
    student_id: uuid.UUID = Field(foreign_key="user_account.id")
    understanding_rating: int
    understanding_text: str = Field(max_length=2000)
    comfort_rating: int
    comfort_text: str = Field(max_length=2000)
    action_rating: int
    action_text: str = Field(max_length=2000)
    outcome: str | None = Field(default=None, max_length=30)
    evaluated_by: str = Field(max_length=100)
    evaluated_by_role: str = Field(max_length=20)
    evaluated_at: datetime = created_at_field()
