"""What a service sends the notifications service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class Event(StrEnum):
    meeting_provisioned_host = "meeting_provisioned_host"


class Locale(StrEnum):
    id = "id"
    en = "en"


class Recipient(BaseModel):
    person_id: UUID
    name: str
    email: str | None = None
    telegram_chat_id: str | None = None
    phone: str | None = None
    locale: Locale = Locale.id
    timezone: str = "Asia/Jakarta"


class NotificationRequest(BaseModel):
    idempotency_key: str = Field(min_length=8, max_length=200)
    school_id: UUID
    session_id: UUID | None = None
    event: Event
    recipients: list[Recipient] = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)


class NotificationAccepted(BaseModel):
    id: UUID
    status: str
    deliveries: int
