"""The Cloud API's status webhook body, as much of it as Lingkar reads; the rest is ignored."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StatusError(BaseModel):
    code: int | None = None
    title: str | None = None
    message: str | None = None


class MessageStatus(BaseModel):
    id: str  # the wamid our send answer gave
    status: str  # sent | delivered | read | failed (and others Lingkar ignores)
    timestamp: str | None = None  # Unix seconds, as text
    errors: list[StatusError] = Field(default_factory=list)


class ChangeValue(BaseModel):
    statuses: list[MessageStatus] = Field(default_factory=list)


class Change(BaseModel):
    field: str | None = None
    value: ChangeValue = Field(default_factory=ChangeValue)


class Entry(BaseModel):
    changes: list[Change] = Field(default_factory=list)


class StatusWebhook(BaseModel):
    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)


class Receipt(BaseModel):
    """What was made of the statuses in one call (a status seen before is a duplicate)."""

    recorded: int = Field(examples=[1])
    duplicates: int = Field(examples=[0])
    ignored: int = Field(examples=[0])
