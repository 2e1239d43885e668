from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field
from shared.timeutil import utcnow


class GuidanceSession(ApiTable, table=True):
    """One meeting of a group, moving through the five stages."""

    __tablename__ = "guidance_session"
    __table_args__ = (
        Index("ix_session_school_start", "school_id", "scheduled_start", "id"),
        Index("ix_session_group_start", "group_id", "scheduled_start", "id"),
        # A counselor's own list, in its keyset order.
        Index("ix_session_counselor_start", "counselor_id", "scheduled_start", "id"),
    )

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id")
    group_id: uuid.UUID = Field(foreign_key="guidance_group.id")
    counselor_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    title: str = Field(max_length=200)
    stage: str = Field(default="pre_preparation", max_length=20, index=True)
    phase: str | None = Field(default=None, max_length=20)
    platform: str | None = Field(default=None, max_length=20)
    fallback_platform: str | None = Field(default=None, max_length=20)
    scheduled_start: datetime
    duration_minutes: int
    timezone: str = Field(max_length=64)
    # Rises with every reschedule, on cancel, and when the meeting is dropped: the SEQUENCE of
    # the calendar invites people hold, and the generation of the reminders still to come.
    schedule_sequence: int = 0
    meeting_id: uuid.UUID | None = None
    meeting_provider: str | None = Field(default=None, max_length=20)
    meeting_host_url: str | None = Field(default=None, max_length=4096)
    meeting_passcode: str | None = Field(default=None, max_length=50)
    meeting_provisioned_at: datetime | None = None
    # Set when the provisioning request is committed to the outbox: asked for once. The key
    # names that request; an answer to any other is stale and its meeting is cancelled.
    meeting_requested_at: datetime | None = None
    provision_key: str | None = Field(default=None, max_length=200)
    # The consent text version this session asks for, fixed once consent is first asked.
    consent_text_version: str | None = Field(default=None, max_length=40)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow)


class SessionParticipant(ApiTable, table=True):
    """The members of the group when the session was planned: its own snapshot."""

    __tablename__ = "session_participant"

    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", primary_key=True)
    student_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, index=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    # The member's own gated link, once cleared and admitted; cleared again on withdrawal.
    join_url: str | None = Field(default=None, max_length=1000)
    admission_requested_at: datetime | None = None
    admitted_at: datetime | None = None
    # How many times the member was asked to be admitted: each admission has its own key.
    admissions: int = 0


class SessionEvent(ApiTable, table=True):
    """The record of a session: every stage or phase change and every gate decision."""

    __tablename__ = "session_event"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", index=True)
    kind: str = Field(max_length=20)
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=20)
    from_state: str | None = Field(default=None, max_length=30)
    to_state: str = Field(max_length=30)
    reason: str | None = Field(default=None, max_length=1000)
    at: datetime = created_at_field()


class SessionPlan(ApiTable, table=True):
    """The service plan (RPL, Rencana Pelaksanaan Layanan); drafts are kept as they are."""

    __tablename__ = "session_plan"

    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", primary_key=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    topic_kind: str | None = Field(default=None, max_length=10)
    topic: str | None = Field(default=None, max_length=300)
    objectives: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    target: str | None = Field(default=None, max_length=1000)
    materials: str | None = Field(default=None, max_length=2000)
    evaluation_plan: str | None = Field(default=None, max_length=2000)
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class Attestation(ApiTable, table=True):
    """The counselor's word that the code of ethics and the method were explained."""

    __tablename__ = "attestation"

    session_id: uuid.UUID = Field(foreign_key="guidance_session.id", primary_key=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    attested_by: str = Field(max_length=100)
    attested_by_role: str = Field(max_length=20)
    attested_at: datetime = created_at_field()
