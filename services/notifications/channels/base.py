"""What every delivery channel is: a way to send one rendered message to one address.

The worker claims a delivery, renders it, and hands it to the channel named on the delivery. A
channel answers by returning (sent) or by raising `DeliveryFailed`, saying whether a retry can
help, when to retry if the other side said so, and whether the address is unreachable for good.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery, Notification
from services.notifications.notifications.templates import Rendered
from services.notifications.settings import NotificationsSettings
from shared.contracts.whatsapp import WhatsAppTemplate
from shared.queue import backoff
from shared.tls import client_context


class DeliveryFailed(Exception):
    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: timedelta | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent or unreachable
        # The other side asked us to wait this long (Telegram's retry_after, a Retry-After).
        self.retry_after = retry_after
        # The person cannot be reached on this address (bot blocked, number not on WhatsApp).
        self.unreachable = unreachable


@dataclass(frozen=True)
class Outgoing:
    """One message on its way: the stored delivery, its notification, and the words."""

    delivery: Delivery
    notification: Notification
    rendered: Rendered
    # The school's WhatsApp template for the event, looked up by the channel's `prepare`.
    template: WhatsAppTemplate | None = None


class Closable(Protocol):
    async def aclose(self) -> None: ...


ClosableT = TypeVar("ClosableT", bound=Closable)


class Connections:
    """What a worker's channels keep open between messages: one HTTP client for the worker's
    life (Telegram, WhatsApp: no new TLS handshake per message), closed at shutdown, and the
    connections of one batch (its SMTP connection), closed when the batch is done."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None
        self._batch: dict[str, Closable] = {}

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.settings.outside_call_timeout_seconds, verify=client_context()
            )
        return self._http

    def kept(self, name: str, make: Callable[[], ClosableT]) -> ClosableT:
        """The batch's connection called `name`, made by `make` if the batch has none yet."""
        if name not in self._batch:
            self._batch[name] = make()
        kept: Any = self._batch[name]
        return kept

    async def end_batch(self) -> None:
        batch, self._batch = self._batch, {}
        for connection in batch.values():
            with contextlib.suppress(Exception):
                await connection.aclose()

    async def aclose(self) -> None:
        await self.end_batch()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


@dataclass(frozen=True)
class Channel:
    name: str
    # Sends; answers the provider's id of the message when it gives one (a WhatsApp wamid).
    send: Callable[[NotificationsSettings, Outgoing, Connections], Awaitable[str | None]]
    # What the channel reads from the database before sending (a school's template).
    prepare: Callable[[AsyncSession, Outgoing], Awaitable[Outgoing]] | None = None
    max_attempts: int = 12
    # How long the n-th retry waits (jittered); a channel may keep trying for longer.
    retry_delay: Callable[[int], timedelta] = backoff


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A provider's answer as a JSON object; {} when it is not one (a proxy's error page)."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
