"""Which adapter serves a session's chosen provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from services.meetings.providers.base import MeetingProvider
from services.meetings.providers.jitsi import JitsiProvider
from services.meetings.settings import MeetingsSettings
from shared.problems import DomainError
from shared.stages import Provider

ProviderLookup = Callable[[Provider], MeetingProvider]


class ProviderNotAvailable(DomainError):
    status, type, title = 409, "provider-not-available", "Provider not available"


def provider_for(settings: MeetingsSettings, provider: Provider) -> MeetingProvider:
    if provider == Provider.jitsi:
        return JitsiProvider(settings.jitsi_default_url)
    raise ProviderNotAvailable(
        f"{provider.value} is not configured for this school yet; "
        "Jitsi is available to every school"
    )


def provider_lookup(request: Request) -> ProviderLookup:
    settings: MeetingsSettings = request.app.state.settings

    def lookup(provider: Provider) -> MeetingProvider:
        return provider_for(settings, provider)

    return lookup


Providers = Annotated[ProviderLookup, Depends(provider_lookup)]
