"""Zoom's webhook body, as much of it as Lingkar reads; everything else is ignored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ZoomParticipant(BaseModel):
    user_name: str | None = None
    email: str | None = None
    registrant_id: str | None = None
    join_time: datetime | None = None
    leave_time: datetime | None = None


class ZoomObject(BaseModel):
    id: str | int | None = None  # the meeting's id: our `provider_ref`
    start_time: datetime | None = None
    end_time: datetime | None = None
    participant: ZoomParticipant | None = None


class ZoomPayload(BaseModel):
    plain_token: str | None = Field(default=None, alias="plainToken")
    object: ZoomObject | None = None


class ZoomEvent(BaseModel):
    event: str
    event_ts: int | None = None
    payload: ZoomPayload = Field(default_factory=ZoomPayload)


class UrlValidation(BaseModel):
    """The answer to Zoom's `endpoint.url_validation` challenge."""

    plainToken: str  # Zoom's name
    encryptedToken: str  # Zoom's name


class Receipt(BaseModel):
    status: str  # recorded, duplicate or ignored
