"""The join gate: what one click on a member's link (`/j/{token}`) gets.

The browser goes on to the provider only when every one of these holds: the link is one we
gave, the admission is active, the meeting is not cancelled, now is inside the join window,
and the api confirms, now, that the member is still cleared. Every click is recorded, and
so is a chat app's fetch of the link for its preview, as that (it is not a click).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.join.clearance import ClearanceAnswer, ClearanceCheck
from services.meetings.join.models import JoinEvent
from services.meetings.meetings import repository as meeting_repository
from services.meetings.meetings.models import DEFAULT_TIMEZONE, Meeting, MeetingStatus
from services.meetings.meetings.service import provider_meeting
from services.meetings.participants import service as participant_service
from services.meetings.participants.links import token_hash
from services.meetings.participants.models import Participant, ParticipantStatus
from services.meetings.providers.base import fresh_host_url
from services.meetings.providers.errors import ProviderError
from services.meetings.providers.registry import ProviderLookup
from shared.stages import Provider
from shared.timeutil import as_utc, utcnow

log = logging.getLogger("lingkar.meetings.join")

OPENS_BEFORE_START = timedelta(minutes=15)
MAX_TOKEN_LENGTH = 100  # ours are 43 characters; longer is not worth a query


class Outcome(StrEnum):
    admitted = "admitted"
    unknown = "refused_unknown"
    revoked = "refused_revoked"
    not_cleared = "refused_not_cleared"
    too_early = "refused_too_early"
    ended = "refused_ended"
    cancelled = "refused_cancelled"
    unavailable = "refused_unavailable"
    # Cleared, but the provider cannot give the link now (down, the school's account refused).
    provider_unavailable = "refused_provider_unavailable"
    # A chat app or a crawler fetched the link to show a preview of it: not a click.
    preview = "preview"


# What fetches a link to show a preview of it, by its User-Agent (each service's documented
# crawler): a message carrying a join link is fetched so the moment it arrives in WhatsApp or
# Telegram, long before the member opens it. An app's own name is matched only where its
# fetcher's agent starts with it (`^WhatsApp/`, `^Viber/`): their in-app browsers send the
# phone's browser agent with the app's name added at the end, and that is a member clicking.
_PREVIEWERS = re.compile(
    r"^WhatsApp/|^Viber/|TelegramBot|facebookexternalhit|Facebot|Twitterbot|Slackbot|"
    r"Discordbot|LinkedInBot|SkypeUriPreview|BingPreview|Googlebot|bingbot|Applebot|redditbot|"
    r"Iframely|Embedly|vkShare|Pinterestbot|MicrosoftPreview|Mattermost-Bot|"
    r"Snap URL Preview",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Visitor:
    client_address: str | None
    user_agent: str | None

    @property
    def previewing(self) -> bool:
        return bool(self.user_agent and _PREVIEWERS.search(self.user_agent))


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    redirect_to: str | None = None
    opens_at: datetime | None = None
    timezone: str = DEFAULT_TIMEZONE
    language: str | None = None  # the member's own, when the link is theirs


def join_window(meeting: Meeting) -> tuple[datetime, datetime]:
    """From 15 minutes before the start to the scheduled end, both included."""
    start = as_utc(meeting.scheduled_start)
    return start - OPENS_BEFORE_START, start + timedelta(minutes=meeting.duration_minutes)


async def click(
    *,
    db: AsyncSession,
    token: str,
    visitor: Visitor,
    clearance: ClearanceCheck,
    providers: ProviderLookup,
) -> Decision:
    """Decide one click and record it."""
    now = utcnow()
    participant = None
    if len(token) <= MAX_TOKEN_LENGTH:
        participant = await participant_service.by_token(db=db, token=token)
    if participant is None:
        _record(db, None, None, Outcome.unknown, visitor, now)
        # A crawler is shown the neutral page whatever the link: it learns nothing from it.
        return Decision(Outcome.preview if visitor.previewing else Outcome.unknown)
    if visitor.previewing:
        # Kept, so the record says why a link shows as fetched before its member opened it;
        # but not a click: nothing is checked, no provider is called, nobody is sent on.
        _record(db, participant.id, participant.meeting_id, Outcome.preview, visitor, now)
        return Decision(Outcome.preview)
    meeting = await meeting_repository.get(db, participant.meeting_id)
    refusal = _refused_here(participant, meeting, now)
    if refusal is None:
        # The api is asked and the provider may be called: the read is over, and its
        # connection goes back to the pool meanwhile. A class clicking at the start would
        # otherwise hold the pool through those calls.
        await db.commit()
        decision = await _admit(participant, meeting, clearance, providers)
    else:
        opens_at, _ = join_window(meeting)
        decision = Decision(refusal, opens_at=opens_at, timezone=meeting.timezone)
    _record(db, participant.id, meeting.id, decision.outcome, visitor, now)
    return dataclasses.replace(decision, language=participant.locale)


async def _admit(
    participant: Participant,
    meeting: Meeting,
    clearance: ClearanceCheck,
    providers: ProviderLookup,
) -> Decision:
    """Our own records let the member in: the api's word now, then the provider's link."""
    answer = await clearance(
        session_id=meeting.session_id, person_id=participant.person_id, meeting_id=meeting.id
    )
    if answer is ClearanceAnswer.not_cleared:
        return Decision(Outcome.not_cleared)
    if answer is not ClearanceAnswer.cleared:
        return Decision(Outcome.unavailable)
    try:
        adapter = await providers(Provider(meeting.provider), meeting.school_id)
        target = await adapter.join_link_for(
            provider_meeting(meeting),
            display_name=participant.name,
            person_key=str(participant.person_id),
        )
    except ProviderError as exc:
        _provider_failed(meeting, exc)
        return Decision(Outcome.provider_unavailable)
    return Decision(Outcome.admitted, redirect_to=target)


def _provider_failed(meeting: Meeting, exc: ProviderError) -> None:
    """The provider cannot send anyone on now (down, its circuit open, the school's account
    refused): the page says to try again in a few minutes, and the click is kept as such."""
    log.warning(
        "provider could not give a link at a click",
        extra={"meeting_id": str(meeting.id), "provider": meeting.provider, "error": exc.type},
    )


def _refused_here(participant: Participant, meeting: Meeting, now: datetime) -> Outcome | None:
    """What our own records refuse, before the api is asked anything."""
    opens_at, ends_at = join_window(meeting)
    if meeting.status == MeetingStatus.cancelled:
        return Outcome.cancelled
    if meeting.status != MeetingStatus.ready:  # the provider has not answered yet
        return Outcome.unavailable
    if participant.status != ParticipantStatus.active:
        return Outcome.revoked
    if now > ends_at:
        return Outcome.ended
    if now < opens_at:
        return Outcome.too_early
    return None


def _record(
    db: AsyncSession,
    participant_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None,
    outcome: Outcome,
    visitor: Visitor,
    now: datetime,
) -> None:
    db.add(
        JoinEvent(
            participant_id=participant_id,
            meeting_id=meeting_id,
            at=now,
            outcome=outcome,
            client_address=(visitor.client_address or "")[:100] or None,
            user_agent=(visitor.user_agent or "")[:500] or None,
        )
    )
    log.info(
        "join link clicked",
        extra={
            "outcome": outcome.value,
            "participant_id": str(participant_id) if participant_id else None,
            "meeting_id": str(meeting_id) if meeting_id else None,
        },
    )


async def host_click(
    *, db: AsyncSession, token: str, visitor: Visitor, providers: ProviderLookup
) -> Decision:
    """The counselor's link: on to the provider's host link as it works now (fetched at the
    click: Zoom's expires), while the meeting stands."""
    if visitor.previewing:
        return Decision(Outcome.preview)  # no provider call for a chat app's crawler
    meeting = None
    if len(token) <= MAX_TOKEN_LENGTH:
        meeting = await meeting_repository.by_host_token_hash(db, token_hash(token))
    if meeting is None:
        return Decision(Outcome.unknown)
    if meeting.status == MeetingStatus.cancelled:
        return Decision(Outcome.cancelled, timezone=meeting.timezone)
    await db.commit()  # the read is over: no connection held through the provider's call
    try:
        adapter = await providers(Provider(meeting.provider), meeting.school_id)
        target = await fresh_host_url(adapter, provider_meeting(meeting))
    except ProviderError as exc:
        _provider_failed(meeting, exc)
        return Decision(Outcome.provider_unavailable, timezone=meeting.timezone)
    log.info("host link used", extra={"meeting": str(meeting.id)})
    return Decision(Outcome.admitted, redirect_to=target)
