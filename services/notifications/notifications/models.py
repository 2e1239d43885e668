from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class Notification(NotificationsTable, table=True):
    """A request to tell people something, stored before it is acknowledged."""

    __tablename__ = "notification"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    session_id: uuid.UUID | None = Field(default=None, index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    event: str = Field(max_length=50)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # A scheduled notification (a reminder, a follow-up) is not delivered, nor shown in anyone's
    # inbox, before this time; None means at once.
    deliver_after: datetime | None = None
    # Set when a scheduled notification is called off (its session was cancelled or moved): its
    # pending deliveries become `cancelled` and it leaves the inboxes.
    cancelled_at: datetime | None = None
    # The Recipient (as JSON) told when someone of this notification cannot be reached.
    report_to: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class Delivery(NotificationsTable, table=True):
    """One message to one person on one channel; the unit the worker claims and retries."""

    __tablename__ = "delivery"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    notification_id: uuid.UUID = Field(foreign_key="notification.id", index=True)
    school_id: uuid.UUID = Field(index=True)
    person_id: uuid.UUID = Field(index=True)
    person_name: str = Field(max_length=200)
    channel: str = Field(max_length=20)
    address: str = Field(max_length=320)
    locale: str = Field(max_length=5)
    timezone: str = Field(max_length=64)
    # pending -> sent | dead (given up after the channel's last try) | cancelled (called off)
    # | unreachable (the address cannot be reached) ; sent -> failed (the provider said so
    # later: a WhatsApp status). opted_out: a non-essential message the person declined.
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    # The person's next [channel, address] pairs, tried in turn when this one gives up.
    fallbacks: list[list[str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list)
    )
    # The provider's id of the sent message (a WhatsApp wamid) and the last status it reported.
    provider_message_id: str | None = Field(default=None, max_length=200, index=True)
    provider_status: str | None = Field(default=None, max_length=20)
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Cancellation(NotificationsTable, table=True):
    """One calling-off of scheduled notifications, kept so that a repeat of it changes nothing.

    A retried call could otherwise call off what was scheduled after the first one (a member's
    new reminders once they consented again).
    """

    __tablename__ = "cancellation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    school_id: uuid.UUID = Field(index=True)
    session_id: uuid.UUID = Field(index=True)
    notifications: int
    deliveries: int
    created_at: datetime = Field(default_factory=utcnow)
