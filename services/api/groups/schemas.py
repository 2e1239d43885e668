from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from shared.validation import Payload


class GuidanceField(StrEnum):
    """The field (bidang) of guidance a group works in."""

    personal = "personal"
    social = "social"
    learning = "learning"
    career = "career"


class GroupCreate(Payload):
    name: str = Field(min_length=1, max_length=200, examples=["Kelompok Karier XI IPA 2"])
    counselor_id: uuid.UUID
    member_ids: list[uuid.UUID] = Field(description="Students of the school, each once")
    field: GuidanceField

    @field_validator("member_ids")
    @classmethod
    def _distinct(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("a student may be listed only once")
        return value


class GroupMemberPublic(BaseModel):
    student_id: uuid.UUID
    name: str


class GroupPublic(BaseModel):
    id: uuid.UUID
    name: str
    counselor_id: uuid.UUID
    field: GuidanceField
    members: list[GroupMemberPublic]
    created_at: datetime
