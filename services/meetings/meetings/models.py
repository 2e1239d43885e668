from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow


class Meeting(MeetingsTable, table=True):
    """A meeting at a provider. The row (the intent) is written before the provider is called."""

    __tablename__ = "meeting"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    session_id: uuid.UUID = Field(index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    request_hash: str = Field(max_length=64)
    provider: str = Field(max_length=20)
    status: str = Field(default="creating", max_length=20)
    provider_ref: str | None = Field(default=None, max_length=200)
    host_url: str | None = Field(default=None, max_length=1000)
    passcode: str | None = Field(default=None, max_length=50)
    scheduled_start: datetime
    duration_minutes: int
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
