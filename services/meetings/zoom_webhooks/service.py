"""Zoom's webhook calls: the signature checked on the raw body, then the event recorded.

Zoom signs `v0:{x-zm-request-timestamp}:{raw body}` with the school app's secret token
(HMAC-SHA256, hex, prefixed `v0=`) in `x-zm-signature`. A call more than five minutes from our
clock is refused, so a captured one cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.providers.zoom import MEMBER_EMAIL_DOMAIN
from services.meetings.zoom_webhooks import repository
from services.meetings.zoom_webhooks.models import Attendance, AttendanceEvent
from services.meetings.zoom_webhooks.schemas import Receipt, UrlValidation, ZoomEvent
from shared.problems import InvalidInput, Unauthorized
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.meetings.zoom_webhooks")

MAX_CLOCK_DIFFERENCE_SECONDS = 300
URL_VALIDATION = "endpoint.url_validation"
RECORDED_EVENTS = frozenset(kind.value for kind in AttendanceEvent)


class WebhookSignatureInvalid(Unauthorized):
    type, title = "webhook-signature-invalid", "Webhook signature invalid"


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(*, secret: str, timestamp: str | None, signature: str | None, body: bytes) -> None:
    """Refuse (401) a call not signed with the school's secret, or not sent just now."""
    if not timestamp or not signature:
        raise WebhookSignatureInvalid("the call is not signed")
    sent_at = _seconds(timestamp)
    if sent_at is None or abs(utcnow().timestamp() - sent_at) > MAX_CLOCK_DIFFERENCE_SECONDS:
        raise WebhookSignatureInvalid("the call's timestamp is not within five minutes of now")
    expected = "v0=" + sign(secret, b"v0:" + timestamp.encode() + b":" + body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookSignatureInvalid("the call's signature does not match")


async def receive(
    *,
    db: AsyncSession,
    school_id: uuid.UUID,
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
) -> UrlValidation | Receipt:
    """Check one webhook call and act on it: answer the challenge or record the event."""
    verify(secret=secret, timestamp=timestamp, signature=signature, body=body)
    try:
        event = ZoomEvent.model_validate_json(body)
    except ValidationError:
        raise InvalidInput("body", "not a Zoom event") from None
    if event.event == URL_VALIDATION:
        plain = event.payload.plain_token or ""
        return UrlValidation(plainToken=plain, encryptedToken=sign(secret, plain.encode()))
    if event.event not in RECORDED_EVENTS:
        return Receipt(status="ignored")
    status = await _record(db, school_id, event)
    log.info("zoom event", extra={"event": event.event, "outcome": status})
    return Receipt(status=status)


async def _record(db: AsyncSession, school_id: uuid.UUID, event: ZoomEvent) -> str:
    zoom_object = event.payload.object
    if zoom_object is None or zoom_object.id is None:
        return "ignored"
    ref = str(zoom_object.id)
    meeting = await repository.zoom_meeting(db, school_id=school_id, provider_ref=ref)
    if meeting is None:  # not a meeting Lingkar made for this school: nothing of it is kept
        return "ignored"
    row = attendance(meeting.id, ref, event)
    return "recorded" if await repository.add_once(db, row) else "duplicate"


def attendance(meeting_id: uuid.UUID, provider_ref: str, event: ZoomEvent) -> Attendance:
    zoom_object = event.payload.object
    assert zoom_object is not None
    person = zoom_object.participant
    kind = AttendanceEvent(event.event)
    times = {
        AttendanceEvent.started: zoom_object.start_time,
        AttendanceEvent.ended: zoom_object.end_time,
        AttendanceEvent.participant_joined: person.join_time if person else None,
        AttendanceEvent.participant_left: person.leave_time if person else None,
    }
    sent_at = _from_ms(event.event_ts) if event.event_ts else utcnow()
    registrant_id = person.registrant_id if person else None
    user_name = person.user_name if person else None
    return Attendance(
        meeting_id=meeting_id,
        provider_ref=provider_ref,
        event=kind.value,
        participant_key=(registrant_id or user_name or "")[:200],
        registrant_id=registrant_id,
        person_key=_person_key(person.email if person else None),
        user_name=user_name[:200] if user_name else None,
        at=(times[kind] or sent_at).astimezone(UTC),
        event_ts=event.event_ts or int(sent_at.timestamp() * 1000),
    )


def _person_key(email: str | None) -> str | None:
    """The member behind a registrant link: the address Lingkar registered them with."""
    suffix = "@" + MEMBER_EMAIL_DOMAIN
    if email and email.lower().endswith(suffix):
        return email[: -len(suffix)][:100]
    return None


def _seconds(timestamp: str) -> float | None:
    try:
        value = float(timestamp)
    except ValueError:
        return None
    return value / 1000 if value > 10**11 else value  # in milliseconds, by the look of it


def _from_ms(event_ts: int) -> datetime:
    return datetime.fromtimestamp(event_ts / 1000, UTC)
