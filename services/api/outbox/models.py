from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field
from shared.timeutil import utcnow


class OutboxMessage(ApiTable, table=True):
    """A call to another service, committed with the state change that asks for it."""

    __tablename__ = "outbox_message"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    kind: str = Field(max_length=50)
    idempotency_key: str = Field(max_length=200, unique=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Messages of one lane (one session's calls to one service) are delivered one at a time,
    # oldest first; messages without a lane, and of different lanes, concurrently.
    lane: str | None = Field(default=None, max_length=150, index=True)
    # The request that caused it, so the call it makes logs under the same request id.
    request_id: str | None = Field(default=None, max_length=128)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    done_at: datetime | None = None
