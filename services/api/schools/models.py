from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field


class School(ApiTable, table=True):
    """A tenant. Every other row of the api belongs to exactly one school."""

    __tablename__ = "school"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Jakarta", max_length=64)
    min_group_size: int = 2
    max_group_size: int = 10
    guardian_consent_age: int = 18
    created_at: datetime = created_at_field()
