from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class DeliveryAttempt(NotificationsTable, table=True):
    """One try of a delivery, as the worker saw it; kept when the delivery is sent again."""

    __tablename__ = "delivery_attempt"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="delivery.id", index=True)
    school_id: uuid.UUID = Field(index=True)
    channel: str = Field(max_length=20)
    # sent | failed (to be tried again) | dead (given up) | another state a channel ends in
    outcome: str = Field(max_length=20)
    # In words that carry no address, link or secret (see `masking.plain_error`).
    error: str | None = Field(default=None, max_length=500)
    at: datetime = Field(default_factory=utcnow)
