from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field, ValidationInfo, field_validator

from shared.contracts.notifications import Locale
from shared.timeutil import utcnow
from shared.validation import Payload, check_timezone


class PersonRole(StrEnum):
    counselor = "counselor"
    student = "student"
    guardian = "guardian"


class Relationship(StrEnum):
    mother = "mother"
    father = "father"
    parent = "parent"
    grandparent = "grandparent"
    sibling = "sibling"
    legal_guardian = "legal_guardian"
    other = "other"


class UserCreate(Payload):
    role: PersonRole
    name: str = Field(min_length=1, max_length=200, examples=["Siti Rahmawati"])
    email: EmailStr | None = Field(default=None, examples=["siti@sekolah.sch.id"])
    phone: str | None = Field(
        default=None,
        pattern=r"^\+[1-9][0-9]{6,14}$",
        examples=["+6281234567890"],
        description="E.164, with the country code",
    )
    telegram_chat_id: str | None = Field(default=None, pattern=r"^-?[0-9]{1,20}$")
    birth_date: date | None = Field(default=None, description="Students only")
    locale: Locale = Locale.id
    timezone: str = Field(default="Asia/Jakarta", examples=["Asia/Jakarta"])

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("birth_date")
    @classmethod
    def _students_only_and_not_in_future(
        cls, value: date | None, info: ValidationInfo
    ) -> date | None:
        # A field validator (not a model one) so the error names `birth_date`; `role` is
        # declared earlier, so it is in `info.data` whenever it was valid.
        if value and info.data.get("role", PersonRole.student) != PersonRole.student:
            raise ValueError("birth_date is kept for students only")
        if value and value > utcnow().date():
            raise ValueError("a birth date cannot be in the future")
        return value


class UserPublic(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    role: PersonRole
    name: str
    email: str | None
    phone: str | None
    telegram_chat_id: str | None
    birth_date: date | None
    locale: Locale
    timezone: str
    created_at: datetime


class GuardianLink(Payload):
    guardian_id: uuid.UUID
    relationship: Relationship


class GuardianshipPublic(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    guardian_id: uuid.UUID
    relationship: Relationship
    created_at: datetime
