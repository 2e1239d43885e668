"""Meetings: exactly one provider meeting per request key, moved and cancelled on request."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings import repository
from services.meetings.meetings.models import Meeting, MeetingStatus, SessionCancellation
from services.meetings.participants import service as participant_service
from services.meetings.participants.links import JoinLinks, token_hash
from services.meetings.providers.base import MeetingProvider, ProviderMeeting, RefreshesHostUrl
from services.meetings.providers.errors import ProviderUnavailable
from services.meetings.providers.registry import ProviderLookup
from shared.contracts.meetings import (
    CancelRequest,
    JoinLink,
    MeetingOut,
    ProvisionRequest,
    RescheduleRequest,
)
from shared.db import serialize
from shared.problems import Conflict
from shared.stages import Provider
from shared.timeutil import as_utc, utcnow


@dataclass(frozen=True)
class Provisioned:
    meeting: Meeting
    join_links: list[JoinLink]
    created: bool


def request_hash(request: ProvisionRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def provider_meeting(meeting: Meeting) -> ProviderMeeting:
    starts_at = as_utc(meeting.scheduled_start)
    return ProviderMeeting(
        provider_ref=meeting.provider_ref or "",
        host_url=meeting.host_url or "",
        passcode=meeting.passcode,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=meeting.duration_minutes),
    )


async def provision(
    *,
    db: AsyncSession,
    request: ProvisionRequest,
    key: str,
    providers: ProviderLookup,
    links: JoinLinks,
) -> Provisioned:
    """The meeting for this key, created now or found from an earlier try, with the links of
    everyone the clearance admits (the same links on every replay)."""
    await serialize(db, f"meetings-of-session:{request.session_id}")  # against cancel_session
    if await repository.provision_cancelled(db, request.session_id, key):
        raise Conflict("this meeting was cancelled before it was made")
    digest = request_hash(request)
    meeting = await repository.by_key(db, key)
    if meeting and meeting.request_hash != digest:
        raise Conflict("this Idempotency-Key was used for a different request")
    created = meeting is None or meeting.status == MeetingStatus.creating
    if created:
        meeting = await _create_or_fall_back(db, request, key, digest, providers, intent=meeting)
    assert meeting is not None
    if meeting.host_token_hash is None:
        meeting.host_token_hash = token_hash(links.host_token(meeting.id))
        db.add(meeting)
    join_links = await participant_service.admit(
        db=db, meeting=meeting, clearance=request.clearance, key=key, links=links
    )
    return Provisioned(meeting=meeting, join_links=join_links, created=created)


async def _create_or_fall_back(
    db: AsyncSession,
    request: ProvisionRequest,
    key: str,
    digest: str,
    providers: ProviderLookup,
    intent: Meeting | None,
) -> Meeting:
    """Create with the chosen provider; if it is down and the session named a fallback that
    every member's consent named too, create there instead (the answer says which)."""
    chosen = await providers(request.provider, request.school_id, host_email=request.host.email)
    try:
        return await _create(db, request, key, digest, chosen, request.provider, intent)
    except ProviderUnavailable:
        fallback = request.fallback_provider
        if fallback is None or not fallback_consented(request):
            raise
    intent = await repository.by_key(db, key)
    backup = await providers(fallback, request.school_id, host_email=request.host.email)
    return await _create(db, request, key, digest, backup, fallback, intent)


def fallback_consented(request: ProvisionRequest) -> bool:
    """Every granted, standing consent of every member named the fallback platform."""
    for participant in request.clearance.participants:
        standing = [
            c
            for c in participant.consents
            if c.granted and not c.withdrawn and c.platform == request.provider
        ]
        if not standing or any(c.fallback_platform != request.fallback_provider for c in standing):
            return False
    return True


async def _create(
    db: AsyncSession,
    request: ProvisionRequest,
    key: str,
    digest: str,
    provider: MeetingProvider,
    provider_name: Provider,
    intent: Meeting | None,
) -> Meeting:
    meeting = intent or Meeting(
        school_id=request.school_id,
        session_id=request.session_id,
        idempotency_key=key,
        request_hash=digest,
        provider=request.provider.value,
        scheduled_start=as_utc(request.scheduled_start),
        duration_minutes=request.duration_minutes,
        timezone=request.timezone,
    )
    db.add(meeting)
    await db.flush()
    created = await provider.create(request)
    meeting.provider = provider_name.value
    meeting.provider_ref = created.provider_ref
    # A provider that makes the host link afresh at the click (Zoom: it carries the host's zak
    # and expires) has nothing worth keeping here; the host gate asks it each time.
    meeting.host_url = None if isinstance(provider, RefreshesHostUrl) else created.host_url
    meeting.passcode = created.passcode
    meeting.status = MeetingStatus.ready
    meeting.updated_at = utcnow()
    db.add(meeting)
    await db.flush()
    return meeting


async def reschedule(
    *,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    change: RescheduleRequest,
    providers: ProviderLookup,
) -> Meeting:
    """Move the meeting (and with it every member's join window); links stay the same."""
    meeting = await repository.get_open(db, meeting_id)
    adapter = await providers(Provider(meeting.provider), meeting.school_id)
    await adapter.update(provider_meeting(meeting), change)
    meeting.scheduled_start = as_utc(change.scheduled_start)
    meeting.duration_minutes = change.duration_minutes
    meeting.updated_at = utcnow()
    db.add(meeting)
    await db.flush()
    return meeting


async def cancel_session(
    *,
    db: AsyncSession,
    session_id: uuid.UUID,
    request: CancelRequest,
    key: str,
    providers: ProviderLookup,
) -> list[uuid.UUID]:
    """Cancel every live meeting of the session: deleted at the provider, every link dead.

    A replayed key answers as the first time and touches nothing, so a late retry cannot
    cancel a meeting made after it.
    """
    await serialize(db, f"meetings-of-session:{session_id}")  # against provision
    earlier = await repository.cancellation_by_key(db, key)
    if earlier is not None:
        return [uuid.UUID(m) for m in earlier.meeting_ids]
    meetings = [
        m
        for m in await repository.live_of_session(db, session_id)
        if m.idempotency_key in request.provision_keys
    ]
    for meeting in meetings:
        await _cancel(db, meeting, request.reason, providers)
    db.add(
        SessionCancellation(
            session_id=session_id,
            idempotency_key=key,
            reason=request.reason,
            meeting_ids=[str(m.id) for m in meetings],
            provision_keys=request.provision_keys,
        )
    )
    await db.flush()
    return [m.id for m in meetings]


async def _cancel(
    db: AsyncSession, meeting: Meeting, reason: str, providers: ProviderLookup
) -> None:
    if meeting.provider_ref:
        adapter = await providers(Provider(meeting.provider), meeting.school_id)
        await adapter.delete(provider_meeting(meeting))
    meeting.status = MeetingStatus.cancelled
    meeting.cancelled_at = meeting.updated_at = utcnow()
    meeting.cancel_reason = reason
    db.add(meeting)


def public(meeting: Meeting, join_links: list[JoinLink], links: JoinLinks) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        session_id=meeting.session_id,
        provider=meeting.provider,
        host_url=links.host_url(meeting.id),
        passcode=meeting.passcode,
        join_links=join_links,
        scheduled_start=as_utc(meeting.scheduled_start),
        duration_minutes=meeting.duration_minutes,
        status=meeting.status,
        created_at=as_utc(meeting.created_at),
    )
