"""Dependencies every domain of the meetings service shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request

# The caller's key for a request it may send again; the same key gets the same answer.
IdempotencyKey = Annotated[str, Header(min_length=8, max_length=200)]


@dataclass(frozen=True)
class AttemptTimes:
    """How long one attempt to make a provider meeting is taken to be under way, and how long
    a request for the same meeting waits for it."""

    under_way: timedelta
    wait: timedelta


async def provider_attempt_times(request: Request) -> AttemptTimes:
    settings = request.app.state.settings
    return AttemptTimes(
        under_way=timedelta(seconds=settings.provider_attempt_seconds),
        wait=timedelta(seconds=settings.provider_attempt_wait_seconds),
    )


ProviderAttemptTimes = Annotated[AttemptTimes, Depends(provider_attempt_times)]
