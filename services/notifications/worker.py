"""The delivery worker: claims due deliveries, sends them, records the outcome.

    python -m services.notifications.worker

Several workers may run at once on PostgreSQL (rows are leased with FOR UPDATE SKIP LOCKED);
on SQLite run one. A worker that dies mid-send leaves a lease that expires, and the delivery
is taken again; the message keeps its Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.channels import CHANNELS, Channel, DeliveryFailed, Outgoing
from services.notifications.main import MIGRATIONS
from services.notifications.notifications.cancel import call_off, sequence_of
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.notifications.templates import render
from services.notifications.settings import NotificationsSettings
from shared.contracts.notifications import Event
from shared.db import create_engine, run_migrations
from shared.observability import configure_logging
from shared.queue import claim_due
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.worker")
SCHEDULE_CHANGES = (Event.session_rescheduled.value, Event.session_cancelled.value)


class Worker:
    def __init__(
        self,
        settings: NotificationsSettings,
        engine: AsyncEngine,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        # What time it is for due sends and retries; tests move it instead of sleeping.
        self.clock = clock
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("worker pass failed")
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.worker_poll_seconds)
        log.info("worker stopped", extra={"worker": self.name})

    async def run_once(self) -> int:
        ids = await self.claim()
        for delivery_id in ids:
            await self.deliver(delivery_id)
        return len(ids)

    async def claim(self) -> list[uuid.UUID]:
        """Lease a batch of due deliveries to this worker."""
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            ids = await claim_due(
                db,
                Delivery,
                now=self.clock(),
                lease=timedelta(seconds=self.settings.worker_lease_seconds),
                limit=self.settings.worker_batch_size,
                worker=self.name,
            )
            await db.commit()
        return ids

    async def deliver(self, delivery_id: uuid.UUID) -> None:
        """Send one claimed delivery and record the outcome; skip it if called off meanwhile."""
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            # Locked while it is sent (PostgreSQL), so a calling-off waits for the outcome
            # rather than marking cancelled what went out.
            delivery = await db.get(Delivery, delivery_id, with_for_update=True)
            notification = (
                await db.get(Notification, delivery.notification_id) if delivery else None
            )
            if delivery is None or notification is None or delivery.status != "pending":
                return  # sent by another worker, or called off since it was claimed
            if await self._called_off(db, delivery, notification):
                return
            channel = CHANNELS.get(delivery.channel)
            try:
                if channel is None:
                    raise DeliveryFailed(f"no channel {delivery.channel!r}", permanent=True)
                await self._send(channel, delivery, notification)
            except DeliveryFailed as exc:
                self._failed(delivery, channel, exc)
            else:
                delivery.status, delivery.sent_at = "sent", self.clock()
                delivery.locked_until, delivery.last_error = None, None
            delivery.attempts += 1
            db.add(delivery)
            await db.commit()

    async def _called_off(
        self, db: AsyncSession, delivery: Delivery, notification: Notification
    ) -> bool:
        """Called off, or about to be: then it is cancelled here and not sent."""
        if notification.cancelled_at is None and not await self._superseded(db, notification):
            return False
        await call_off(db=db, notification=notification, now=self.clock())
        await db.commit()
        log.info("scheduled delivery called off", extra={"delivery": str(delivery.id)})
        return True

    async def _superseded(self, db: AsyncSession, notification: Notification) -> bool:
        """A reminder of a time the session no longer has: a later reschedule or the cancel
        carries a higher schedule sequence, even if its calling-off has not arrived yet."""
        if notification.event != Event.session_reminder or notification.session_id is None:
            return False
        later = await db.exec(
            select(Notification).where(
                Notification.session_id == notification.session_id,
                col(Notification.event).in_(SCHEDULE_CHANGES),
            )
        )
        return any(sequence_of(n) > sequence_of(notification) for n in later.all())

    async def _send(self, channel: Channel, delivery: Delivery, notification: Notification) -> None:
        try:
            rendered = render(
                notification.event,
                notification.data,
                name=delivery.person_name,
                locale=delivery.locale,
                timezone=delivery.timezone,
            )
        except (KeyError, ValueError, TypeError) as exc:
            # A message that cannot be written will not be written on a retry either.
            raise DeliveryFailed(
                f"cannot render {notification.event}: {exc!r}", permanent=True
            ) from exc
        await channel.send(self.settings, Outgoing(delivery, notification, rendered))
        log.info("delivered", extra={"channel": delivery.channel, "delivery": str(delivery.id)})

    def _failed(self, delivery: Delivery, channel: Channel | None, exc: DeliveryFailed) -> None:
        reason = str(exc)
        delivery.last_error = reason[:500]
        delivery.locked_until = None
        if channel is None or exc.permanent or delivery.attempts + 1 >= channel.max_attempts:
            delivery.status = "dead"
            log.error("delivery dead", extra={"delivery": str(delivery.id), "reason": reason})
        else:
            wait = channel.retry_delay(delivery.attempts + 1)
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            delivery.next_attempt_at = self.clock() + wait
            log.warning("delivery will be retried", extra={"delivery": str(delivery.id)})


async def main() -> None:
    settings = NotificationsSettings()
    configure_logging("notifications-worker", settings.log_level)
    engine = create_engine(settings.db_url, schema=settings.service_name, pool_size=2)
    await run_migrations(engine, migrations_dir=MIGRATIONS, schema=settings.service_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(settings, engine).run(stop)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
