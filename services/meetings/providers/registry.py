"""Which adapter serves a session's provider, built per call from the school's account.

Jitsi works for every school on the default server; Zoom and Google Meet need the school's
account (PUT /v1/school/providers/...). Each adapter is wrapped in a circuit breaker of its
school and provider: after repeated "unavailable" answers, calls fail at once for a while
instead of piling up on a provider that is down (a school's own bad credentials do not trip it,
and one school's failing account or server does not stop the others).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.accounts import service as accounts
from services.meetings.db import DbSession
from services.meetings.providers.accounts import (
    GoogleMeetAccount,
    JaasAccount,
    JitsiAccount,
    ZoomAccount,
)
from services.meetings.providers.base import MeetingProvider
from services.meetings.providers.errors import ProviderCallUncertain, ProviderUnavailable
from services.meetings.providers.jitsi import jitsi_provider
from services.meetings.providers.zoom import RetryPolicy, ZoomProvider, ZoomTokenCache
from services.meetings.settings import MeetingsSettings
from shared.problems import DomainError
from shared.secret_box import SecretBox
from shared.stages import Provider
from shared.tls import client_context


class ProviderNotAvailable(DomainError):
    status, type, title = 409, "provider-not-available", "Provider not available"


ProviderLookup = Callable[..., Awaitable[MeetingProvider]]


class CircuitBreaker:
    """Closed → open after `threshold` failures in a row → half-open after `cooldown`."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        return self.clock() - self.opened_at >= self.cooldown  # half-open: one trial

    def succeeded(self) -> None:
        self.failures, self.opened_at = 0, None

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.clock()


class Guarded:
    """An adapter behind its provider's breaker."""

    def __init__(self, adapter: Any, breaker: CircuitBreaker, provider: Provider) -> None:
        self._adapter, self._breaker, self._provider = adapter, breaker, provider
        self.name = getattr(adapter, "name", provider.value)

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._adapter, method)

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            if not self._breaker.allow():
                raise ProviderUnavailable(
                    f"{self._provider.value} has been failing; trying again shortly",
                    provider=self._provider.value,
                )
            try:
                result = await call(*args, **kwargs)
            except (ProviderUnavailable, ProviderCallUncertain):
                self._breaker.failed()
                raise
            self._breaker.succeeded()
            return result

        return guarded


GOOGLE_MEET = "services.meetings.providers.google_meet"
JAAS = "services.meetings.providers.jaas"
# The adapters whose libraries most schools never need: imported when a school first uses them.
_IMPORTED_ON_FIRST_USE: dict[type, str] = {GoogleMeetAccount: GOOGLE_MEET, JaasAccount: JAAS}


class ProviderRegistry:
    """One per app: the shared HTTP client, Zoom's token cache, the breakers."""

    def __init__(
        self,
        *,
        settings: MeetingsSettings,
        engine: AsyncEngine,
        box: SecretBox,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings, self.engine, self.box = settings, engine, box
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.outside_call_timeout_seconds), verify=client_context()
        )
        self.zoom_tokens = ZoomTokenCache()
        self.zoom_retry = RetryPolicy()
        # Per school and provider: the fault is most often in one school's account or server
        # (a revoked Zoom app, a self-hosted Jitsi down), and must not stop the other schools.
        self.breakers: dict[tuple[Provider, uuid.UUID], CircuitBreaker] = {}
        self._imports: dict[str, asyncio.Task[Any]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _imported(self, module: str) -> None:
        """Import `module` in a thread once; every request that needs it meanwhile waits for
        that import. The Google SDK takes about 0.3 s, joserfc about 0.1 s: on the event loop,
        every request of the process would wait for it. A module is in `sys.modules` from the
        moment its import begins, so that is not the sign it is ready: a click arriving
        mid-import would finish it on the event loop, blocked on the import's lock."""
        importing = self._imports.get(module)
        if importing is None or (importing.done() and module not in sys.modules):
            # Never begun, or it failed (a failed import leaves nothing in sys.modules): begin.
            importing = asyncio.create_task(asyncio.to_thread(importlib.import_module, module))
            self._imports[module] = importing
        # Shielded: a request cancelled while waiting leaves the import to the others.
        await asyncio.shield(importing)

    async def __call__(
        self,
        provider: Provider,
        school_id: uuid.UUID,
        *,
        host_email: str | None = None,
        db: AsyncSession | None = None,
    ) -> MeetingProvider:
        """The school's adapter for `provider`. A request passes its own session as `db`.

        A request never holds two connections: with one checked out for its open transaction,
        the account is read on it. A second one per request would let a burst (a class
        clicking its join links at the start) each hold one and wait for another until the
        pool's time-out, and answer 503. With no transaction open (making a meeting commits
        its intent before calling the provider), the account is read on a connection of its
        own, given back at once: a transaction begun here would stay open through the
        provider's call.
        """
        if db is not None and db.in_transaction():
            account = await accounts.load(
                db=db, box=self.box, school_id=school_id, provider=provider
            )
        else:
            async with AsyncSession(self.engine) as own:
                account = await accounts.load(
                    db=own, box=self.box, school_id=school_id, provider=provider
                )
        module = _IMPORTED_ON_FIRST_USE.get(type(account))
        if module is not None:
            await self._imported(module)
        adapter = self._adapter(provider, account, host_email)
        breaker = self.breakers.setdefault((provider, school_id), CircuitBreaker())
        return Guarded(adapter, breaker, provider)

    def _adapter(self, provider: Provider, account: Any, host_email: str | None) -> Any:
        settings = self.settings
        if provider == Provider.jitsi:
            assert account is None or isinstance(account, JitsiAccount | JaasAccount)
            return jitsi_provider(account, default_url=settings.jitsi_default_url)
        if provider == Provider.zoom and isinstance(account, ZoomAccount):
            return ZoomProvider(
                account,
                oauth_url=settings.zoom_oauth_url,
                api_url=settings.zoom_api_url,
                tokens=self.zoom_tokens,
                http=self.http,
                timeout=settings.outside_call_timeout_seconds,
                retry=self.zoom_retry,
            )
        if provider == Provider.google_meet and isinstance(account, GoogleMeetAccount):
            # Here, not at the top: google-api-python-client and google-auth cost the process
            # about 15 MB, and most schools never use Google Meet.
            from services.meetings.providers.google_meet import GoogleMeetProvider

            return GoogleMeetProvider(
                account, host_email=host_email, timeout=settings.outside_call_timeout_seconds
            )
        raise ProviderNotAvailable(
            f"{provider.value} is not configured for this school (PUT "
            f"/v1/school/providers/{provider.value}); Jitsi is available to every school"
        )


async def provider_lookup(request: Request, db: DbSession) -> ProviderLookup:
    """The registry, reading the school's account through the request's own session."""
    registry: ProviderRegistry = request.app.state.providers
    return functools.partial(registry, db=db)


Providers = Annotated[ProviderLookup, Depends(provider_lookup)]
