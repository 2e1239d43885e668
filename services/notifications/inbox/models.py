from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class InboxItem(NotificationsTable, table=True):
    """A notification as it sits in one person's in-app inbox, whatever channel carried it."""

    __tablename__ = "inbox_item"
    __table_args__ = (
        UniqueConstraint("notification_id", "person_id"),
        # A person's inbox newest first, page by page (the keyset of the listing).
        Index("ix_inbox_item_person_visible", "school_id", "person_id", "visible_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    notification_id: uuid.UUID = Field(foreign_key="notification.id", index=True)
    school_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str = Field(max_length=200)
    locale: str = Field(max_length=5)
    timezone: str = Field(max_length=64)
    # Shown from this time on: the notification's scheduled time, or when it was accepted.
    visible_at: datetime
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
