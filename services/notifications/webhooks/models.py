from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class WebhookSubscription(NotificationsTable, table=True):
    """A school's endpoint that wants some events, with its signing secret sealed."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    # Set when Lingkar stopped on its own (the receiver answered 410 Gone); shown on GET.
    disabled_reason: str | None = Field(default=None, max_length=200)
    disabled_at: datetime | None = None
    # Fernet tokens (shared.secret_box) of the current secret and, during a rotation, the old.
    sealed_secret: str
    sealed_previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookMessage(NotificationsTable, table=True):
    """One event on its way to one subscription; the unit the worker claims and retries.

    Its id is the `webhook-id` every attempt carries, so a receiver can drop a repeat.
    """

    __tablename__ = "webhook_message"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", index=True)
    school_id: uuid.UUID = Field(index=True)
    # The notification it tells of (None for webhook.test): called off with it.
    notification_id: uuid.UUID | None = Field(
        default=None, foreign_key="notification.id", index=True
    )
    event: str = Field(max_length=50)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # pending -> sent | dead (given up) | cancelled (subscription disabled, notification off)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=100)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"
