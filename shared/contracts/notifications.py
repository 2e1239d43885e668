"""What a service sends the notifications service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from shared.validation import Payload


class Event(StrEnum):
    """What happened, and so which template. The `data` each carries is listed beside it.

    The events about a session's time (provisioned, rescheduled, cancelled) also carry what the
    email's calendar invite needs: `schedule_sequence` (int, the session's counter that rises
    with every reschedule and on cancel; the invite's SEQUENCE) and the organizer
    (`organizer_name`, `organizer_email`: the counselor). The invite's UID is made from the
    session and the recipient, so it is the same in every message about that session to them.
    """

    # session_title, scheduled_start, provider, student_id, student_name,
    # signer ("student"|"guardian"), consent_url, expires_at
    consent_requested = "consent_requested"
    # session_title, scheduled_start (ISO, UTC), duration_minutes, provider, host_url,
    # passcode, cleared_members: [names], schedule_sequence, organizer_name, organizer_email;
    # moved_from (the chosen provider) when the meeting moved to the fallback because the
    # chosen one was down
    meeting_provisioned_host = "meeting_provisioned_host"
    # session_title, scheduled_start, duration_minutes, provider, join_url (the gated link),
    # schedule_sequence, organizer_name, organizer_email
    meeting_provisioned_member = "meeting_provisioned_member"
    # session_title, student_id, student_name, blocked (bool), unmet: [messages]
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
    # To the session's counselor, made by the notifications service itself: session_title,
    # scheduled_start, person_name, channel (the one that failed), fallback_channel (or None)
    contact_unreachable = "contact_unreachable"


# Messages a person cannot opt out of: without them they could not consent, join, or know that
# their session moved or is off, and a counselor would not learn that someone cannot be reached.
# Any event not listed (reminders, follow-ups) is non-essential.
ESSENTIAL_EVENTS: frozenset[str] = frozenset(
    {
        Event.consent_requested,
        Event.meeting_provisioned_host,
        Event.meeting_provisioned_member,
        Event.session_rescheduled,
        Event.session_cancelled,
        Event.consent_withdrawn,
        Event.contact_unreachable,
    }
)


def is_essential(event: str) -> bool:
    """Whether a person who opted out of non-essential messages still gets this event."""
    return event in ESSENTIAL_EVENTS


class ChannelName(StrEnum):
    """The channels a person can put in order; the in-app inbox and webhooks are not chosen."""

    telegram = "telegram"
    whatsapp = "whatsapp"
    email = "email"


# When a person has set no order. A Telegram chat id exists only once the person has started the
# school's bot, so it is the channel they chose; WhatsApp is on nearly every phone of students
# and parents; email, which few of them read daily, is the last resort (docs/decisions/0006).
DEFAULT_CHANNEL_ORDER: tuple[ChannelName, ...] = (
    ChannelName.telegram,
    ChannelName.whatsapp,
    ChannelName.email,
)


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
    # The person's own order; None means DEFAULT_CHANNEL_ORDER. Channels without an address
    # are skipped, so are addresses known to be unreachable.
    channels: list[ChannelName] | None = None
    opt_out_non_essential: bool = False


class NotificationRequest(Payload):
    idempotency_key: str = Field(min_length=8, max_length=200)
    school_id: UUID
    session_id: UUID | None = None
    event: Event
    recipients: list[Recipient] = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    # Scheduled sends (follow-ups, reminders): not delivered before this time.
    deliver_after: AwareDatetime | None = None
    # Who hears when a recipient cannot be reached (the session's counselor).
    report_to: Recipient | None = None


class NotificationAccepted(BaseModel):
    id: UUID
    status: str
    deliveries: int


BATCH_MAX = 100


class NotificationBatch(Payload):
    """Several notifications made together (a member's link and their reminders), accepted in
    one call and one transaction, all or none; each keeps its own idempotency key."""

    notifications: list[NotificationRequest] = Field(min_length=1, max_length=BATCH_MAX)


class BatchAccepted(BaseModel):
    accepted: list[NotificationAccepted]  # in the order of the batch


# What the notifications service answers about what it holds; the api passes these on as they are.
PAGE_LIMIT_MAX = 100


class InboxItem(BaseModel):
    """One notification in a person's in-app inbox, in their language and time zone."""

    id: UUID
    event: Event
    session_id: UUID | None = None
    title: str = Field(examples=["Mohon persetujuan: Mengelola stres menjelang ujian"])
    text: str = Field(description="The message as the email says it, in the reader's language")
    # When it reached the inbox: its scheduled time, or when it was sent.
    at: AwareDatetime
    read_at: AwareDatetime | None = None


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None = None
    unread_count: int = Field(examples=[3])


class InboxRead(BaseModel):
    """After marking read: how many items changed, and how many are still unread."""

    marked: int
    unread_count: int


class AttemptOut(BaseModel):
    at: AwareDatetime
    outcome: str = Field(
        examples=["failed"], description="sent | failed (to be retried) | dead (given up)"
    )
    error: str | None = Field(default=None, examples=["SMTPConnectError"])


class DeliveryOut(BaseModel):
    """One message to one person on one channel; the address is masked, errors carry no secret."""

    id: UUID
    person_id: UUID
    person_name: str
    channel: str = Field(examples=["email"])
    address: str = Field(examples=["s***@sekolah.sch.id", "+62***123"], description="Masked")
    status: str = Field(
        examples=["sent"], description="pending | sent | dead | cancelled (and channels' states)"
    )
    attempts: int = Field(description="Every try made, those before a retry included")
    last_error: str | None = None
    sent_at: AwareDatetime | None = None
    history: list[AttemptOut] = Field(default_factory=list)


class SessionNotification(BaseModel):
    id: UUID
    event: Event
    created_at: AwareDatetime
    deliver_after: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    deliveries: list[DeliveryOut]


class SessionNotificationPage(BaseModel):
    items: list[SessionNotification]
    next_cursor: str | None = None


class DeadLetter(DeliveryOut):
    """A delivery that gave up, with what it was about."""

    notification_id: UUID
    event: Event
    session_id: UUID | None = None
    created_at: AwareDatetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None = None


class PageQuery(BaseModel):
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=20, ge=1, le=PAGE_LIMIT_MAX)


class InboxQuery(PageQuery):
    # Only the items not read yet.
    unread: bool = False


class ScheduledCancellation(Payload):
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
