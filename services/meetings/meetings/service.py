"""Meetings: exactly one provider meeting per request key, moved and cancelled on request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.deps import AttemptTimes
from services.meetings.meetings import repository
from services.meetings.meetings.errors import MeetingBeingMade, MeetingCancelled
from services.meetings.meetings.models import Meeting, MeetingStatus, SessionCancellation
from services.meetings.participants import service as participant_service
from services.meetings.participants.links import JoinLinks, token_hash
from services.meetings.providers.base import (
    FindsMeeting,
    MeetingProvider,
    ProviderMeeting,
    RefreshesHostUrl,
)
from services.meetings.providers.errors import ProviderCallUncertain, ProviderUnavailable
from services.meetings.providers.registry import ProviderLookup
from shared.contracts.meetings import (
    CancelRequest,
    JoinLink,
    MeetingOut,
    ProvisionRequest,
    RescheduleRequest,
)
from shared.db import serialize
from shared.problems import Conflict, DomainError
from shared.stages import Provider
from shared.timeutil import as_utc, utcnow

DEFAULT_ATTEMPT_TIMES = AttemptTimes(under_way=timedelta(minutes=5), wait=timedelta(seconds=5))
WAIT_STEP_SECONDS = 0.1


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
    attempt_times: AttemptTimes = DEFAULT_ATTEMPT_TIMES,
) -> Provisioned:
    """The meeting for this key, created now or found from an earlier try, with the links of
    everyone the clearance admits (the same links on every replay)."""
    digest = request_hash(request)
    give_up_waiting = utcnow() + attempt_times.wait
    while True:
        await serialize(db, session_lock(request.session_id))  # against cancel_session
        if await repository.provision_cancelled(db, request.session_id, key):
            raise Conflict("this meeting was cancelled before it was made")
        meeting = await repository.by_key(db, key)
        if meeting and meeting.request_hash != digest:
            raise Conflict("this Idempotency-Key was used for a different request")
        if not (_under_way(meeting, attempt_times) and utcnow() < give_up_waiting):
            break
        await db.rollback()  # lets the attempt under way record its answer
        await asyncio.sleep(WAIT_STEP_SECONDS)
    created = meeting is None or meeting.status == MeetingStatus.creating
    if created:
        meeting = await _make(db, request, key, digest, providers, meeting, attempt_times)
    assert meeting is not None
    if meeting.host_token_hash is None:
        meeting.host_token_hash = token_hash(links.host_token(meeting.id))
        db.add(meeting)
    join_links = await participant_service.admit(
        db=db, meeting=meeting, clearance=request.clearance, key=key, links=links
    )
    return Provisioned(meeting=meeting, join_links=join_links, created=created)


def _under_way(meeting: Meeting | None, attempt_times: AttemptTimes) -> bool:
    """Whether another request is making this meeting at the provider right now."""
    if meeting is None or meeting.status != MeetingStatus.creating:
        return False
    started = meeting.attempt_started_at
    return started is not None and as_utc(started) > utcnow() - attempt_times.under_way


def session_lock(session_id: uuid.UUID) -> str:
    return f"meetings-of-session:{session_id}"


async def _make(
    db: AsyncSession,
    request: ProvisionRequest,
    key: str,
    digest: str,
    providers: ProviderLookup,
    intent: Meeting | None,
    attempt_times: AttemptTimes,
) -> Meeting:
    """Exactly one provider meeting for the key, whatever failed before.

    The intent row is committed, with the time this attempt began, before the provider hears of
    it. A request that finds an attempt under way is told to come back (503). One that finds a
    `creating` row with no attempt under way (it failed, or its process died after the provider
    answered and before our commit) asks the provider for that meeting before creating one.
    """
    now = utcnow()
    earlier_attempt = intent is not None
    if intent is None:
        intent = Meeting(
            school_id=request.school_id,
            session_id=request.session_id,
            idempotency_key=key,
            request_hash=digest,
            provider=request.provider.value,
            scheduled_start=as_utc(request.scheduled_start),
            duration_minutes=request.duration_minutes,
            timezone=request.timezone,
        )
    elif _under_way(intent, attempt_times):
        raise MeetingBeingMade(
            "the meeting is being made at the provider; ask again in a minute",
            retry_after=60,
        )
    intent.attempt_started_at = now
    db.add(intent)
    await db.commit()  # on record before the provider is called (this also ends the lock)
    try:
        made, name, adapter = await _create_or_fall_back(
            request, providers, reconcile=earlier_attempt
        )
    except Exception as exc:
        await db.rollback()
        if earlier_attempt or _may_have_made(exc):
            intent.attempt_started_at = None  # ended: the next request need not wait for it
            db.add(intent)
        else:
            await db.delete(intent)  # the provider said no: nothing was made anywhere
        await db.commit()
        raise
    await serialize(db, session_lock(request.session_id))
    await db.refresh(intent)
    if intent.status == MeetingStatus.cancelled:
        # The session was cancelled while the provider was making the meeting.
        await adapter.delete(made)
        raise MeetingCancelled("the session was cancelled while its meeting was being made")
    intent.provider = name.value
    intent.provider_ref = made.provider_ref
    # A provider that makes the host link afresh at the click (Zoom: it carries the host's zak
    # and expires) has nothing worth keeping here; the host gate asks it each time.
    intent.host_url = None if isinstance(adapter, RefreshesHostUrl) else made.host_url
    intent.passcode = made.passcode
    intent.status = MeetingStatus.ready
    intent.attempt_started_at = None
    intent.updated_at = utcnow()
    db.add(intent)
    await db.flush()
    return intent


async def _create_or_fall_back(
    request: ProvisionRequest, providers: ProviderLookup, *, reconcile: bool
) -> tuple[ProviderMeeting, Provider, MeetingProvider]:
    """Create with the chosen provider; if it is down and the session named a fallback that
    every member's consent named too, create there instead (the answer says which)."""
    chosen = await providers(request.provider, request.school_id, host_email=request.host.email)
    try:
        return await _create(request, chosen, reconcile=reconcile), request.provider, chosen
    except ProviderUnavailable:
        fallback = request.fallback_provider
        if fallback is None or not fallback_consented(request):
            raise
    backup = await providers(fallback, request.school_id, host_email=request.host.email)
    return await _create(request, backup, reconcile=reconcile), fallback, backup


async def _create(
    request: ProvisionRequest, provider: MeetingProvider, *, reconcile: bool
) -> ProviderMeeting:
    if reconcile and isinstance(provider, FindsMeeting):
        found = await provider.find(request.session_id, as_utc(request.scheduled_start))
        if found is not None:
            return found
    return await provider.create(request)


def _may_have_made(exc: Exception) -> bool:
    """Whether a failed create may still have made a meeting: a time-out after sending, or a
    failure we did not foresee. A provider's clear refusal or "down, nothing done" did not."""
    return isinstance(exc, ProviderCallUncertain) or not isinstance(exc, DomainError)


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
    await serialize(db, session_lock(session_id))  # against provision
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
    adapter = await providers(Provider(meeting.provider), meeting.school_id)
    if meeting.provider_ref:
        await adapter.delete(provider_meeting(meeting))
    elif meeting.status == MeetingStatus.creating and isinstance(adapter, FindsMeeting):
        # An attempt that died after the provider made the meeting left it there unrecorded.
        # (One still under way sees the cancellation when it ends and deletes what it made.)
        found = await adapter.find(meeting.session_id, as_utc(meeting.scheduled_start))
        if found is not None:
            await adapter.delete(found)
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
