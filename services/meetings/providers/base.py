"""The one interface every meeting provider is used through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from shared.contracts.meetings import ProvisionRequest, RescheduleRequest


@dataclass(frozen=True)
class ProviderMeeting:
    provider_ref: str
    host_url: str
    passcode: str | None = None
    # The meeting's time as Lingkar holds it now (after any reschedule), for adapters whose
    # links carry it: a Jitsi token is valid from 15 minutes before the start to 15 after the end.
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class MeetingProvider(Protocol):
    name: str

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        """Create the meeting; must be safe to call again for the same request."""
        ...

    async def update(self, meeting: ProviderMeeting, change: RescheduleRequest) -> None:
        """Move the provider's meeting to the new time; safe to call again with the same change."""
        ...

    async def delete(self, meeting: ProviderMeeting) -> None:
        """Delete the provider's meeting; deleting one already gone is not an error."""
        ...

    async def join_link_for(
        self, meeting: ProviderMeeting, *, display_name: str, person_key: str | None = None
    ) -> str:
        """Where the join gate sends one admitted member: never the host's link. `person_key`
        (stable per member) lets a provider give the member the same link of their own on
        every click; a provider with one link for everyone ignores it."""
        ...


@runtime_checkable
class FindsMeeting(Protocol):
    """A provider whose create is not idempotent (Zoom has no idempotency key): after an
    attempt that may have reached it without our recording the answer (a crash, a time-out),
    the meetings service asks it for the meeting that attempt made before creating another."""

    async def find(self, session_id: UUID, starts_at: datetime) -> ProviderMeeting | None: ...


@runtime_checkable
class RefreshesHostUrl(Protocol):
    """A provider whose host link expires or carries the meeting's time (Zoom's `start_url`
    lasts about two hours): the host's link is asked for again near the start."""

    async def fresh_host_url(self, meeting: ProviderMeeting) -> str: ...


async def fresh_host_url(provider: MeetingProvider, meeting: ProviderMeeting) -> str:
    """The host's link as it works now: made again by a provider whose links expire, the stored
    one for any other."""
    if isinstance(provider, RefreshesHostUrl):
        return await provider.fresh_host_url(meeting)
    return meeting.host_url
