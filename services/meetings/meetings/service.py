"""Provisioning: exactly one provider meeting per request key, whatever is retried."""

from __future__ import annotations

import hashlib
import json

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.models import Meeting
from services.meetings.providers.base import MeetingProvider
from shared.contracts.meetings import MeetingOut, ProvisionRequest
from shared.problems import Conflict
from shared.timeutil import as_utc, utcnow


def request_hash(request: ProvisionRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def provision(
    *, db: AsyncSession, request: ProvisionRequest, key: str, provider: MeetingProvider
) -> tuple[Meeting, bool]:
    """The meeting for this key, created now (True) or found from an earlier try (False)."""
    digest = request_hash(request)
    existing = (await db.exec(select(Meeting).where(Meeting.idempotency_key == key))).first()
    if existing and existing.request_hash != digest:
        raise Conflict("this Idempotency-Key was used for a different request")
    if existing and existing.status == "ready":
        return existing, False
    meeting = existing or Meeting(
        school_id=request.school_id,
        session_id=request.session_id,
        idempotency_key=key,
        request_hash=digest,
        provider=request.provider.value,
        scheduled_start=as_utc(request.scheduled_start),
        duration_minutes=request.duration_minutes,
    )
    db.add(meeting)
    await db.flush()
    created = await provider.create(request)
    meeting.provider_ref = created.provider_ref
    meeting.host_url = created.host_url
    meeting.passcode = created.passcode
    meeting.status = "ready"
    meeting.updated_at = utcnow()
    db.add(meeting)
    await db.flush()
    return meeting, True


def public(meeting: Meeting) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        session_id=meeting.session_id,
        provider=meeting.provider,
        host_url=meeting.host_url or "",
        passcode=meeting.passcode,
        join_links=[],
        scheduled_start=as_utc(meeting.scheduled_start),
        duration_minutes=meeting.duration_minutes,
        status=meeting.status,
        created_at=as_utc(meeting.created_at),
    )
