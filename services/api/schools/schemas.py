from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.validation import Payload, check_timezone

MAX_GROUP_SIZE_LIMIT = 20


class SchoolCreate(Payload):
    name: str = Field(min_length=1, max_length=200, examples=["SMA Negeri 1 Yogyakarta"])
    timezone: str = Field(default="Asia/Jakarta", examples=["Asia/Makassar"])
    min_group_size: int = Field(default=2, ge=2, le=MAX_GROUP_SIZE_LIMIT)
    max_group_size: int = Field(default=10, ge=2, le=MAX_GROUP_SIZE_LIMIT)
    guardian_consent_age: int = Field(default=18, ge=0, le=21)

    _tz = field_validator("timezone")(check_timezone)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> SchoolCreate:
        if self.min_group_size > self.max_group_size:
            raise ValueError("min_group_size must not exceed max_group_size")
        return self


class SchoolPublic(BaseModel):
    id: uuid.UUID
    name: str
    timezone: str
    min_group_size: int
    max_group_size: int
    guardian_consent_age: int
    created_at: datetime


class ClientCredentials(BaseModel):
    """Shown once, when made; only a hash of the secret is kept."""

    client_id: str
    client_secret: str
    scopes: list[str]


class SchoolCreated(BaseModel):
    school: SchoolPublic
    admin_client: ClientCredentials
