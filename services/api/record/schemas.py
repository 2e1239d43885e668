from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.validation import Payload


class ObservationCreate(Payload):
    student_id: uuid.UUID
    participation: int = Field(ge=1, le=5, description="Active in giving opinions")
    respects_others: int = Field(ge=1, le=5, description="Respects the opinions of others")
    seriousness: int = Field(ge=1, le=5)
    notes: str | None = Field(
        default=None, max_length=4000, description="Seen only by the counselor and the school admin"
    )


class ObservationPublic(ObservationCreate):
    id: uuid.UUID
    observed_by: str
    observed_at: datetime


class Rated(Payload):
    rating: int = Field(ge=1, le=5)
    text: str = Field(min_length=1, max_length=2000)


class Outcome(StrEnum):
    resolved = "resolved"
    continue_online = "continue_online"
    continue_face_to_face = "continue_face_to_face"
    referred = "referred"


class EvaluationCreate(Payload):
    student_id: uuid.UUID
    understanding: Rated = Field(description="U: what new understanding the member gained")
    comfort: Rated = Field(description="C: how the member felt")
    action: Rated = Field(description="A: what the member will do")
    outcome: Outcome | None = Field(default=None, description="The counselor's to set")


class EvaluationPublic(EvaluationCreate):
    id: uuid.UUID
    evaluated_by: str
    evaluated_by_role: str
    evaluated_at: datetime
