from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, UniqueConstraint

from services.notifications.db import NotificationsTable
from shared.timeutil import utcnow


class WhatsAppTemplateSetting(NotificationsTable, table=True):
    """A school's approved template for one event; events without one use the built-in."""

    __tablename__ = "whatsapp_template"
    __table_args__ = (UniqueConstraint("school_id", "event"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    event: str = Field(max_length=50)
    name: str = Field(max_length=512)
    language: str | None = Field(default=None, max_length=10)
    body_parameters: list[str] = Field(sa_column=Column(JSON, nullable=False))
    link_button: bool = True
    button_url_base: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)
