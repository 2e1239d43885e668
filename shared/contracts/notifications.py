"""What a service sends the notifications service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from shared.validation import Payload


class Event(StrEnum):
    """What happened, and so which template. The `data` each carries is listed beside it."""

    # session_title, scheduled_start, provider, student_name, signer ("student"|"guardian"),
    # consent_url, expires_at
    consent_requested = "consent_requested"
    # session_title, scheduled_start (ISO, UTC), duration_minutes, provider, host_url,
    # passcode, cleared_members: [names]
    meeting_provisioned_host = "meeting_provisioned_host"
    # session_title, scheduled_start, duration_minutes, provider, join_url (the gated link)
    meeting_provisioned_member = "meeting_provisioned_member"
    # session_title, student_name, blocked (bool), unmet: [messages]
    consent_withdrawn = "consent_withdrawn"
    # session_title, scheduled_start, duration_minutes, join_url (members) or host_url (counselor)
    session_rescheduled = "session_rescheduled"
    # session_title, scheduled_start, reason
    session_cancelled = "session_cancelled"
    # session_title, scheduled_start, follow_up ("short_term" | "long_term"), members: [names]
    follow_up_due = "follow_up_due"


class Locale(StrEnum):
    id = "id"
    en = "en"


class Recipient(Payload):
    person_id: UUID
    name: str
    email: str | None = None
    telegram_chat_id: str | None = None
    phone: str | None = None
    locale: Locale = Locale.id
    timezone: str = "Asia/Jakarta"


class NotificationRequest(Payload):
    idempotency_key: str = Field(min_length=8, max_length=200)
    school_id: UUID
    session_id: UUID | None = None
    event: Event
    recipients: list[Recipient] = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    # Scheduled sends (follow-ups, reminders): not delivered before this time.
    deliver_after: AwareDatetime | None = None


class NotificationAccepted(BaseModel):
    id: UUID
    status: str
    deliveries: int
