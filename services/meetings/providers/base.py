"""The one interface every meeting provider is used through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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

    async def join_link_for(self, meeting: ProviderMeeting, *, display_name: str) -> str:
        """Where the join gate sends one admitted member: never the host's link."""
        ...
