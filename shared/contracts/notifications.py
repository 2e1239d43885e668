"""What a service sends the notifications service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field


class Event(StrEnum):
    """What happened, and so which template. The `data` each carries is listed beside it.

    The events about a session's time (provisioned, rescheduled, cancelled) also carry what the
    email's calendar invite needs: `schedule_sequence` (int, the session's counter that rises
    with every reschedule and on cancel; the invite's SEQUENCE) and the organizer
    (`organizer_name`, `organizer_email`: the counselor). The invite's UID is made from the
    session and the recipient, so it is the same in every message about that session to them.
    """

    # session_title, scheduled_start, provider, student_name, signer ("student"|"guardian"),
    # consent_url, expires_at
    consent_requested = "consent_requested"
    # session_title, scheduled_start (ISO, UTC), duration_minutes, provider, host_url,
    # passcode, cleared_members: [names], schedule_sequence, organizer_name, organizer_email
    meeting_provisioned_host = "meeting_provisioned_host"
    # session_title, scheduled_start, duration_minutes, provider, join_url (the gated link),
    # schedule_sequence, organizer_name, organizer_email
    meeting_provisioned_member = "meeting_provisioned_member"
    # session_title, student_name, blocked (bool), unmet: [messages]
    consent_withdrawn = "consent_withdrawn"
    # session_title, scheduled_start, duration_minutes, join_url (members) or host_url
    # (counselor), schedule_sequence (higher than any before), organizer_name, organizer_email
    session_rescheduled = "session_rescheduled"
    # session_title, scheduled_start, duration_minutes, reason, schedule_sequence (above the last
    # reschedule's), organizer_name, organizer_email
    session_cancelled = "session_cancelled"
    # Scheduled (`deliver_after`) 24 hours and 15 minutes before the start; non-essential.
    # session_title, scheduled_start, duration_minutes, provider, join_url (members) or host_url
    # (counselor), reminder ("24h" | "15m"), schedule_sequence (of the time it reminds of)
    session_reminder = "session_reminder"
    # session_title, scheduled_start, follow_up ("short_term" | "long_term"), members: [names]
    follow_up_due = "follow_up_due"


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
    # Scheduled sends (follow-ups, reminders): not delivered before this time.
    deliver_after: AwareDatetime | None = None


class NotificationAccepted(BaseModel):
    id: UUID
    status: str
    deliveries: int


class ScheduledCancellation(BaseModel):
    """Call off a session's scheduled notifications that are not sent yet.

    Their pending deliveries become `cancelled` and the notification gets `cancelled_at` once
    none of its deliveries is left to send. Repeating a cancellation (same idempotency key)
    answers what the first one did and calls nothing more off.
    """

    idempotency_key: str = Field(min_length=8, max_length=200)
    school_id: UUID
    session_id: UUID
    events: list[Event] = Field(min_length=1)
    # Only these people's deliveries (a member who withdrew); None: everyone's.
    person_ids: list[UUID] | None = None
    # Only notifications whose data's `schedule_sequence` is below this (those of an earlier
    # time, on a reschedule), so reminders of the new time sent alongside are never touched.
    below_sequence: int | None = None


class CancellationDone(BaseModel):
    notifications: int
    deliveries: int
