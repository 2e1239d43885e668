from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, UniqueConstraint

from services.api.db import ApiTable, created_at_field, id_field


class User(ApiTable, table=True):
    """A person of a school: counselor, student or guardian."""

    __tablename__ = "user_account"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    role: str = Field(max_length=20)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    telegram_chat_id: str | None = Field(default=None, max_length=64)
    birth_date: date | None = None
    locale: str = Field(default="id", max_length=5)
    timezone: str = Field(default="Asia/Jakarta", max_length=64)
    # The person's channels in order (names of `ChannelName`); None: the default order.
    channels: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    opt_out_non_essential: bool = False
    created_at: datetime = created_at_field()


class Guardianship(ApiTable, table=True):
    __tablename__ = "guardianship"
    __table_args__ = (UniqueConstraint("student_id", "guardian_id"),)

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    student_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    guardian_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    relationship: str = Field(max_length=30)
    created_at: datetime = created_at_field()
