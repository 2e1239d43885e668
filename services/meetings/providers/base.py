"""The one interface every meeting provider is used through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.contracts.meetings import ProvisionRequest


@dataclass(frozen=True)
class ProviderMeeting:
    provider_ref: str
    host_url: str
    passcode: str | None = None


class MeetingProvider(Protocol):
    name: str

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        """Create the meeting; must be safe to call again for the same request."""
        ...
