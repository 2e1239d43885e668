from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, UniqueConstraint

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class UnreachableContact(NotificationsTable, table=True):
    """An address that said it cannot reach its person (bot blocked, number not on WhatsApp).

    Not tried again; one row, and so one report to the counselor, per person, channel, address.
    A person who gives a new address is tried on it.
    """

    __tablename__ = "unreachable_contact"
    __table_args__ = (UniqueConstraint("person_id", "channel", "address"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    person_id: uuid.UUID = Field(index=True)
    channel: str = Field(max_length=20)
    address: str = Field(max_length=320)
    reason: str = Field(max_length=500)
    delivery_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow)
