"""The circuit breaker in front of each school's provider: a provider that keeps failing is not
called again for a while, and one school's failing account never stops another school."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.meetings.providers.errors import ProviderUnavailable
from services.meetings.providers.registry import CircuitBreaker, Guarded, ProviderRegistry
from services.meetings.providers.zoom import RetryPolicy
from shared.stages import Provider
from tests.meetings.test_zoom import meeting_answer, provision_request

ZOOM_API = "https://api.zoom.us/v2"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyProvider:
    """Answers "unavailable" while `down`, else a meeting reference; counts every call."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = True

    async def create(self, request: Any) -> str:
        self.calls += 1
        if self.down:
            raise ProviderUnavailable("zoom could not be reached", provider="zoom")
        return "made"


def guarded(provider: FlakyProvider, clock: Clock) -> Any:
    breaker = CircuitBreaker(threshold=3, cooldown=30.0, clock=clock)
    return Guarded(provider, breaker, Provider.zoom)


async def test_a_provider_failing_again_and_again_is_not_called_until_the_cooldown() -> None:
    provider, clock = FlakyProvider(), Clock()
    adapter = guarded(provider, clock)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await adapter.create(None)

    with pytest.raises(ProviderUnavailable) as refused:
        await adapter.create(None)

    assert provider.calls == 3  # the fourth call failed at once, without reaching the provider
    assert "has been failing" in refused.value.detail
    clock.now += 29.0
    with pytest.raises(ProviderUnavailable):
        await adapter.create(None)
    assert provider.calls == 3


async def test_after_the_cooldown_one_trial_goes_through_and_a_success_closes_the_breaker() -> None:
    provider, clock = FlakyProvider(), Clock()
    adapter = guarded(provider, clock)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await adapter.create(None)
    clock.now += 30.0

    with pytest.raises(ProviderUnavailable):
        await adapter.create(None)  # the trial reaches the provider, which is still down
    assert provider.calls == 4
    with pytest.raises(ProviderUnavailable):
        await adapter.create(None)  # and the breaker is open again at once
    assert provider.calls == 4

    clock.now += 30.0
    provider.down = False
    assert await adapter.create(None) == "made"
    assert await adapter.create(None) == "made"
    assert provider.calls == 6


@pytest.fixture
def zoom() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://zoom.us/oauth/token").respond(
            200, json={"access_token": "tok", "token_type": "bearer", "expires_in": 3600}
        )
        yield mock


@pytest.fixture
def school_with_zoom(
    meetings: httpx.AsyncClient, service_token: Callable[[str], str]
) -> Callable[[str], Any]:
    async def configure(host: str) -> uuid.UUID:
        school_id = uuid.uuid4()
        answer = await meetings.post(
            f"/internal/v1/schools/{school_id}/providers/zoom",
            json={
                "account_id": f"acc-{school_id.hex[:8]}",
                "client_id": "cid",
                "client_secret": "zoom-client-secret",
                "host_user": host,
            },
            headers={"Authorization": f"Bearer {service_token('meetings')}"},
        )
        assert answer.status_code == 200, answer.text
        return school_id

    return configure


async def test_one_schools_failing_zoom_account_does_not_stop_another_schools(
    zoom: respx.MockRouter,
    school_with_zoom: Callable[[str], Any],
    apps: dict[str, FastAPI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry: ProviderRegistry = apps["meetings"].state.providers
    monkeypatch.setattr(registry, "zoom_retry", RetryPolicy(retries=0))
    failing, healthy = await school_with_zoom("a@x.sch.id"), await school_with_zoom("b@y.sch.id")
    down = zoom.post(f"{ZOOM_API}/users/a@x.sch.id/meetings").respond(503)
    up = zoom.post(f"{ZOOM_API}/users/b@y.sch.id/meetings").mock(return_value=meeting_answer())
    threshold = CircuitBreaker().threshold

    for _ in range(threshold + 2):
        adapter = await registry(Provider.zoom, failing)
        with pytest.raises(ProviderUnavailable):
            await adapter.create(provision_request())

    assert down.call_count == threshold  # the last two failed at once
    other = await registry(Provider.zoom, healthy)
    made = await other.create(provision_request())
    assert made.provider_ref
    assert up.call_count == 1
