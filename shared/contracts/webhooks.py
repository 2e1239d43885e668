"""A school's webhook subscriptions, as the api passes them to the notifications service.

The signing secret travels back once, in the answer to a create or a rotation; it is stored
encrypted by the notifications service and no other answer, log line or error body carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, field_validator
from pydantic.json_schema import JsonDict

from shared.contracts.notifications import Event, PageQuery
from shared.validation import Payload

WEBHOOK_TEST = "webhook.test"
# What a subscription may ask for: every notification event, and the test an admin sends.
EVENT_TYPES: tuple[str, ...] = (*(e.value for e in Event), WEBHOOK_TEST)
_EVENTS_SCHEMA: JsonDict = {"items": {"type": "string", "enum": list(EVENT_TYPES)}}


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host and no user name or password in it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password (they would be shown again)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    return value


def check_events(value: list[str]) -> list[str]:
    unknown = [e for e in value if e not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(value))


class _Checked(Payload):
    @field_validator("url", check_fields=False)
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("events", check_fields=False)
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_events(value)


class WebhookSubscriptionIn(_Checked):
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Where events are POSTed: http(s), a public address",
        examples=["https://sis.sekolah.sch.id/lingkar/webhooks"],
    )
    events: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="The event types to send (see the subscription endpoints' description)",
        json_schema_extra=_EVENTS_SCHEMA,
        examples=[["consent_requested", "session_cancelled"]],
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookSubscriptionUpdate(_Checked):
    """Only the fields given change. Re-enabling a subscription clears why it was disabled."""

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(
        default=None, min_length=1, max_length=len(EVENT_TYPES), json_schema_extra=_EVENTS_SCHEMA
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class WebhookSubscriptionOut(BaseModel):
    id: UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why Lingkar stopped sending (the receiver answered 410 Gone), if it did"
    )
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="During a secret rotation: until when the old secret still signs too"
    )
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionWithSecret(WebhookSubscriptionOut):
    secret: str = Field(
        description="The signing secret (`whsec_` + base64), shown this once; keep it safe",
        examples=["whsec_<base64 of 24 random bytes>"],
    )


class WebhookTestQueued(BaseModel):
    webhook_id: str = Field(description="The `webhook-id` header the test message will carry")
    status: str = "queued"


WebhookMessageStatus = Literal["pending", "sent", "dead", "cancelled"]


class WebhookMessageOut(BaseModel):
    """One event on its way to a subscription, and how its tries went (no payload: the
    receiver has it; nothing here a school's own admin may not see)."""

    webhook_id: str = Field(
        description="The `webhook-id` header every try carries", examples=["msg_3f2a..."]
    )
    event: str = Field(examples=["session_cancelled"])
    status: WebhookMessageStatus = Field(
        description="pending (to be tried, or tried again), sent (a 2xx), dead (given up after "
        "about three days; send it again with .../retry), cancelled (the subscription was "
        "disabled or the notification called off)"
    )
    attempts: int
    last_status: int | None = Field(
        description="The HTTP status the receiver answered at the last try; null if it did not"
    )
    last_error: str | None = Field(examples=["answered 503"])
    next_attempt_at: AwareDatetime | None = Field(description="When a pending message goes next")
    sent_at: AwareDatetime | None
    created_at: AwareDatetime


class WebhookMessagePage(BaseModel):
    items: list[WebhookMessageOut]
    next_cursor: str | None = None


class WebhookMessageQuery(PageQuery):
    status: WebhookMessageStatus | None = None
