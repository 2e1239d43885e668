"""What a service sends the notifications service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from shared.validation import Payload


class Event(StrEnum):
    """What happened, and so which template. The `data` each carries is listed beside it."""

    # session_title, scheduled_start, provider, student_id, student_name,
    # signer ("student"|"guardian"), consent_url, expires_at
    consent_requested = "consent_requested"
    # session_title, scheduled_start (ISO, UTC), duration_minutes, provider, host_url,
    # passcode, cleared_members: [names]; moved_from (the chosen provider) when the meeting
    # moved to the fallback because the chosen one was down
    meeting_provisioned_host = "meeting_provisioned_host"
    # session_title, scheduled_start, duration_minutes, provider, join_url (the gated link)
    meeting_provisioned_member = "meeting_provisioned_member"
    # session_title, student_id, student_name, blocked (bool), unmet: [messages]
    consent_withdrawn = "consent_withdrawn"
    # session_title, scheduled_start, duration_minutes, join_url (members) or host_url (counselor)
    session_rescheduled = "session_rescheduled"
    # session_title, scheduled_start, reason
    session_cancelled = "session_cancelled"
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
# and parents; email, which few of them read daily, is the last resort (docs/decisions/0003).
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
