from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field


class Consent(ApiTable, table=True):
    """One decision on informed consent, by a student or a guardian. Never updated.

    Consent is given for a group and a platform, under one version of the consent text; a
    withdrawal is a record of its own (`ConsentWithdrawal`).
    """

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_group_student", "group_id", "student_id"),)

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    group_id: uuid.UUID = Field(foreign_key="guidance_group.id")
    session_id: uuid.UUID | None = Field(default=None, foreign_key="guidance_session.id")
    student_id: uuid.UUID = Field(foreign_key="user_account.id")
    signer: str = Field(max_length=10)
    signer_id: uuid.UUID = Field(foreign_key="user_account.id")
    signer_name: str = Field(max_length=200)
    relationship: str | None = Field(default=None, max_length=30)
    platform: str = Field(max_length=20)
    fallback_platform: str | None = Field(default=None, max_length=20)
    text_version: str = Field(max_length=40)
    text_hash: str = Field(max_length=64)
    locale: str = Field(max_length=5)
    items: list[str] = Field(sa_column=Column(JSON, nullable=False))
    decision: str = Field(max_length=10)
    channel: str = Field(max_length=20)
    client_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    decided_at: datetime = created_at_field()


class ConsentWithdrawal(ApiTable, table=True):
    """Consent taken back: from that moment it clears no one."""

    __tablename__ = "consent_withdrawal"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    consent_id: uuid.UUID = Field(foreign_key="consent.id", unique=True)
    withdrawn_by: str = Field(max_length=100)
    withdrawn_by_role: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=1000)
    withdrawn_at: datetime = created_at_field()


class ConsentTextVersion(ApiTable, table=True):
    """A school's own wording: a new version over Lingkar's default. Never edited once made."""

    __tablename__ = "consent_text_version"
    __table_args__ = (Index("ix_consent_text_school_version", "school_id", "version", unique=True),)

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id")
    version: str = Field(max_length=40)
    # Same shape as texts.DEFAULT_WORDING; what is left out keeps the default wording.
    wording: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    retention: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    emergency_contact: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=100)
    created_at: datetime = created_at_field()


class ConsentRequest(ApiTable, table=True):
    """An invitation to one signer to decide for one student, for a session's platform."""

    __tablename__ = "consent_request"
    __table_args__ = (Index("ix_consent_request_session", "session_id", "student_id"),)

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="guidance_session.id")
    group_id: uuid.UUID = Field(foreign_key="guidance_group.id")
    student_id: uuid.UUID = Field(foreign_key="user_account.id")
    signer: str = Field(max_length=10)
    signer_id: uuid.UUID = Field(foreign_key="user_account.id")
    relationship: str | None = Field(default=None, max_length=30)
    platform: str = Field(max_length=20)
    fallback_platform: str | None = Field(default=None, max_length=20)
    text_version: str = Field(max_length=40)
    status: str = Field(default="open", max_length=12)
    expires_at: datetime
    sent_count: int = 0
    consent_id: uuid.UUID | None = Field(default=None, foreign_key="consent.id")
    created_at: datetime = created_at_field()
    answered_at: datetime | None = None
