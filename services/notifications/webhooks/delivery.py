"""Sending webhook messages: claimed like deliveries, signed, retried over about three days.

Each attempt re-checks that the URL's host is public (DNS may have changed since it was
subscribed), POSTs once with a time-out and without following redirects, and records the
outcome: 2xx sent; 410 Gone disables the subscription; anything else is retried on `SCHEDULE`
(a `Retry-After` on 429, 502, 503 or 504 is honoured), and after the last try the message is dead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Notification
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import destinations, signing
from services.notifications.webhooks.models import WebhookMessage, WebhookSubscription
from services.notifications.webhooks.service import live_secrets
from shared.contracts.webhooks import WEBHOOK_TEST
from shared.jitter import spread
from shared.queue import Claim
from shared.secret_box import SecretBox
from shared.timeutil import utcnow
from shared.tls import client_context

log = logging.getLogger("lingkar.webhooks")

# The wait after each failed attempt (the first is sent at once): 2.8 days in all, then dead.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    *[timedelta(hours=10)] * 6,
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.2
RETRY_AFTER_STATUS = frozenset({429, 502, 503, 504})
LONGEST_RETRY_AFTER = timedelta(hours=24)
_CLAIM = Claim(WebhookMessage)


def retry_delay(attempts_made: int) -> timedelta | None:
    """How long to wait after the n-th failed attempt (±20 % jitter); None when none is left."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    planned = SCHEDULE[attempts_made - 1]
    return planned * spread(1.0, JITTER)


def retry_after(response: httpx.Response, *, now: datetime) -> timedelta | None:
    """The receiver's `Retry-After` (seconds or an HTTP date), within a day; None without one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        wait = timedelta(seconds=max(float(value), 0.0))
    except ValueError:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), LONGEST_RETRY_AFTER)


@dataclass(frozen=True)
class Outcome:
    status: int | None = None
    error: str | None = None
    wait_at_least: timedelta | None = None

    @property
    def sent(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class ClientPerHost:
    """One connection pool per host name, for one batch. A pinned request's URL names the
    address, and httpx pools connections by the URL: two schools' hosts behind one address
    (shared hosting, a CDN) would otherwise share a TLS connection made, and its certificate
    checked, for the other's name."""

    def __init__(
        self, stack: contextlib.AsyncExitStack, timeout: httpx.Timeout, tls: ssl.SSLContext
    ) -> None:
        self.stack, self.timeout, self.tls = stack, timeout, tls
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def __call__(self, host: str) -> httpx.AsyncClient:
        client = self.clients.get(host)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, verify=self.tls
            )
            self.clients[host] = await self.stack.enter_async_context(client)
        return client


class WebhookSender:
    """The worker's webhook loop: `run_once` sends what is due and records each outcome."""

    def __init__(
        self,
        settings: NotificationsSettings,
        engine: AsyncEngine,
        *,
        worker: str,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker
        self.now = now
        self.box = SecretBox(settings.webhook_secrets_key, what="the webhook secret")
        # Every batch's clients share the process's one context (it reads the CA bundle).
        self.tls = client_context()

    async def run_once(self) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            ids = await _CLAIM(
                db,
                now=self.now(),
                lease=timedelta(seconds=self.settings.worker_lease_seconds),
                limit=self.settings.worker_batch_size,
                worker=self.worker,
            )
            await db.commit()
        if ids:
            timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
            async with contextlib.AsyncExitStack() as stack:
                http = ClientPerHost(stack, timeout, self.tls)
                for message_id in ids:
                    await self._attempt(http, message_id)
        return len(ids)

    async def _attempt(self, http: ClientPerHost, message_id: uuid.UUID) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            message = await db.get(WebhookMessage, message_id)
            if message is None or message.status != "pending":
                return
            subscription = await db.get(WebhookSubscription, message.subscription_id)
            if subscription is None or await self._called_off(db, message, subscription):
                message.status, message.locked_until = "cancelled", None
            else:
                outcome = await self._post(http, message, subscription)
                self._record(message, subscription, outcome)
                db.add(subscription)
            db.add(message)
            await db.commit()

    async def _called_off(
        self, db: AsyncSession, message: WebhookMessage, subscription: WebhookSubscription
    ) -> bool:
        """A disabled subscription gets only tests; a called-off notification, nothing."""
        if not subscription.enabled and message.event != WEBHOOK_TEST:
            return True
        if message.notification_id is None:
            return False
        notification = await db.get(Notification, message.notification_id)
        return notification is None or notification.cancelled_at is not None

    async def _post(
        self, http: ClientPerHost, message: WebhookMessage, subscription: WebhookSubscription
    ) -> Outcome:
        try:
            addresses = await destinations.check(
                subscription.url, allow_private=self.settings.webhook_allow_private_networks
            )
        except destinations.DestinationRefused as exc:
            return Outcome(error=f"not sent: {exc}")
        target = destinations.pinned(subscription.url, addresses[0])
        body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False)
        client = await http(target.sni_hostname)
        try:
            response = await client.post(
                target.url,
                content=body.encode(),
                headers={**self._headers(message, subscription, body), "host": target.host},
                extensions={"sni_hostname": target.sni_hostname},
            )
        except httpx.TimeoutException:
            return Outcome(error=f"no answer within {self.settings.webhook_timeout_seconds} s")
        except httpx.HTTPError as exc:
            return Outcome(error=f"could not connect ({type(exc).__name__})")
        return self._judged(response)

    def _headers(
        self, message: WebhookMessage, subscription: WebhookSubscription, body: str
    ) -> dict[str, str]:
        now = self.now()
        timestamp = int(now.timestamp())
        secrets = live_secrets(self.box, subscription, now=now)
        return {
            "content-type": "application/json",
            "user-agent": "Lingkar-Webhooks/1.0",
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                secrets, webhook_id=message.webhook_id, timestamp=timestamp, body=body
            ),
        }

    def _judged(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(status=status)
        wait = retry_after(response, now=self.now()) if status in RETRY_AFTER_STATUS else None
        error = f"answered {status}"
        if 300 <= status < 400:
            error += " (a redirect, not followed: subscribe the final URL)"
        return Outcome(status=status, error=error, wait_at_least=wait)

    def _record(
        self, message: WebhookMessage, subscription: WebhookSubscription, outcome: Outcome
    ) -> None:
        message.attempts += 1
        message.locked_until = None
        message.last_status, message.last_error = outcome.status, outcome.error
        extra = {"webhook": message.webhook_id, "subscription": str(subscription.id)}
        if outcome.sent:
            message.status, message.sent_at = "sent", self.now()
            log.info("webhook sent", extra={**extra, "status": outcome.status})
        elif outcome.status == 410:
            message.status = "dead"
            subscription.enabled = False
            subscription.disabled_reason = "the receiver answered 410 Gone"
            subscription.disabled_at = subscription.updated_at = self.now()
            log.warning("webhook subscription disabled: 410 Gone", extra=extra)
        else:
            self._retry_or_bury(message, outcome, extra)

    def _retry_or_bury(
        self, message: WebhookMessage, outcome: Outcome, extra: dict[str, str]
    ) -> None:
        wait = retry_delay(message.attempts)
        if wait is None:
            message.status = "dead"
            log.error("webhook dead", extra={**extra, "reason": outcome.error})
            return
        if outcome.wait_at_least is not None:
            wait = max(wait, outcome.wait_at_least)
        message.next_attempt_at = self.now() + wait
        log.warning("webhook will be retried", extra={**extra, "reason": outcome.error})
