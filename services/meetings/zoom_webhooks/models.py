from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow


class AttendanceEvent(StrEnum):
    started = "meeting.started"
    ended = "meeting.ended"
    participant_joined = "meeting.participant_joined"
    participant_left = "meeting.participant_left"


class Attendance(MeetingsTable, table=True):
    """One Zoom event of a Lingkar meeting: it started or ended, someone joined or left it.

    Zoom may deliver an event more than once; one row is kept per meeting, person, event and
    time. Only meetings Lingkar made are recorded, and of a member no more than Zoom shows
    everyone in the meeting (their display name) and the key of their own link.
    """

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint(
            "provider_ref", "participant_key", "event", "at", name="uq_attendance_event"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    provider_ref: str = Field(max_length=200)
    event: str = Field(max_length=40)
    # Who: the registrant (a member's own link), else the name shown; "" for the meeting itself.
    participant_key: str = Field(default="", max_length=200)
    registrant_id: str | None = Field(default=None, max_length=200)
    person_key: str | None = Field(default=None, max_length=100)
    user_name: str | None = Field(default=None, max_length=200)
    at: datetime
    event_ts: int = Field(sa_type=BigInteger)  # Zoom's, in milliseconds
    received_at: datetime = Field(default_factory=utcnow)
