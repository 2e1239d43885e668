from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow


class ParticipantStatus(StrEnum):
    active = "active"
    revoked = "revoked"


class Participant(MeetingsTable, table=True):
    """One admission of a cleared member to a meeting, with their own gated join link.

    Only the SHA-256 of the link's token is kept. A member admitted again after a revocation
    gets a new row (the next `admission_no`), so a new link; the old one stays dead.
    """

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint(
            "meeting_id", "person_id", "admission_no", name="uq_participant_admission"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    person_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)
    locale: str = Field(default="id", max_length=5)
    admission_no: int
    token_hash: str = Field(max_length=64, unique=True)
    status: str = Field(default=ParticipantStatus.active, max_length=20)
    # The Idempotency-Key of the request that admitted them: a replay gets the same link.
    admitted_by_key: str = Field(max_length=200)
    consent_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    admitted_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoke_reason: str | None = Field(default=None, max_length=200)
