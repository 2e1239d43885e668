from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow


class ProviderAccount(MeetingsTable, table=True):
    """A school's account at a provider: settings in clear, secrets encrypted."""

    __tablename__ = "provider_account"
    __table_args__ = (UniqueConstraint("school_id", "provider"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    provider: str = Field(max_length=20)
    settings: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    secrets: str = Field(description="Fernet token of the secrets' JSON")
    updated_at: datetime = Field(default_factory=utcnow)
