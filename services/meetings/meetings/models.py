from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON
from sqlmodel import Field

from services.meetings.db import MeetingsTable
from shared.timeutil import utcnow

DEFAULT_TIMEZONE = "Asia/Jakarta"


class MeetingStatus(StrEnum):
    creating = "creating"  # the intent is stored; the provider has not answered yet
    ready = "ready"
    cancelled = "cancelled"


class Meeting(MeetingsTable, table=True):
    """A meeting at a provider. The row (the intent) is written before the provider is called."""

    __tablename__ = "meeting"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    # SHA-256 of the counselor's host-gate token (`/h/{token}`); the token is derived, not kept.
    host_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    session_id: uuid.UUID = Field(index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    request_hash: str = Field(max_length=64)
    provider: str = Field(max_length=20)
    status: str = Field(default=MeetingStatus.creating, max_length=20)
    # Indexed: Zoom's webhooks name the meeting by it.
    provider_ref: str | None = Field(default=None, max_length=200, index=True)
    # 8x8 JaaS host links carry a signed token: over 1,500 characters with a 4096-bit key.
    host_url: str | None = Field(default=None, max_length=4096)
    passcode: str | None = Field(default=None, max_length=50)
    scheduled_start: datetime
    duration_minutes: int
    # The session's IANA zone: the join gate names the opening time in it.
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, max_length=64, sa_column_kwargs={"server_default": "Asia/Jakarta"}
    )
    # When the latest attempt to create the provider's meeting began; None when none is under
    # way. A `creating` row is committed before the provider is called, so it also says that
    # an earlier attempt may have made a meeting there (see meetings.service.provision).
    attempt_started_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SessionCancellation(MeetingsTable, table=True):
    """One cancel request of a session, kept so a late replay cannot cancel a newer meeting."""

    __tablename__ = "session_cancellation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    reason: str = Field(max_length=1000)
    meeting_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    # The provisioning requests this cancels, made yet or not: a late one is refused.
    provision_keys: list[str] = Field(default_factory=list, sa_type=JSON)
    cancelled_at: datetime = Field(default_factory=utcnow)
