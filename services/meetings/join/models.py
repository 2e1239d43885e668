from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow


class JoinEvent(MeetingsTable, table=True):
    """One click on a join link and what the gate answered: attendance, and the audit trail.

    A click on a link nobody was given has no participant or meeting; it is kept all the same.
    """

    __tablename__ = "join_event"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    participant_id: uuid.UUID | None = Field(default=None, foreign_key="participant.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    outcome: str = Field(max_length=40)
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, max_length=500)
