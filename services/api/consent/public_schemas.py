"""What the public consent endpoints take and answer (JSON for front ends)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.validation import Payload


class ConsentItem(BaseModel):
    code: str
    title: str
    text: str


class ConsentTextPublic(BaseModel):
    version: str
    locale: str
    title: str
    intro: str
    items: list[ConsentItem]
    sha256: str = Field(description="SHA-256 of exactly this text; the record keeps it")


class AskedSession(BaseModel):
    title: str
    scheduled_start: datetime
    platform: str
    fallback_platform: str | None


class ConsentAsk(BaseModel):
    """What a signer is asked, in their language (`?lang=id|en` to choose)."""

    status: Literal["open", "answered", "superseded", "expired"]
    signer: Literal["student", "guardian"]
    student_name: str
    session: AskedSession
    text: ConsentTextPublic
    expires_at: datetime
    decision: Literal["granted", "declined"] | None = None
    withdrawn: bool = False


class DecisionIn(Payload):
    decision: Literal["grant", "decline"]
    acknowledged_items: list[str] = Field(default_factory=list, max_length=20)
    signer_name: str = Field(min_length=1, max_length=200, examples=["Siti Aminah"])
    locale: Literal["id", "en"] | None = Field(
        default=None, description="The language the text was shown in (default: the signer's)"
    )


class WithdrawIn(Payload):
    reason: str | None = Field(default=None, max_length=1000)


class Withdrawn(BaseModel):
    withdrawn: bool
    student_id: uuid.UUID


class RequestOut(BaseModel):
    student_id: uuid.UUID
    signer: Literal["student", "guardian"]
    signer_id: uuid.UUID
    url: str | None = Field(description="The link sent; null when already answered and standing")
    token_expires_at: datetime
    status: str


class RequestsOut(BaseModel):
    requests: list[RequestOut]
    missing_guardians: list[uuid.UUID] = Field(
        description="Minors with no guardian on file: no request could go to a guardian"
    )
