"""The delivery worker: claims due deliveries, sends them, records the outcome.

    python -m services.notifications.worker

Several workers may run at once on PostgreSQL (rows are leased with FOR UPDATE SKIP LOCKED,
and each row stays locked while it is sent); on SQLite run one. A worker that dies leaves
leases that expire, and their deliveries are taken again. One of them may already have reached
the other side: the one being sent when the worker died, if the server had taken it and the
worker not yet recorded so. It goes out a second time, keeping its Message-ID, which is what a
mail system folds duplicates by. No sender can close that gap without the receiver's help
(RFC 1047); the outcome is committed straight after the send to keep it short.
Beside the deliveries it sends the schools' webhooks
(services/notifications/webhooks/delivery.py), from their own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import uvloop
from sqlalchemy import Table, bindparam, exists, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.channels import CHANNELS, Channel, Connections, DeliveryFailed, Outgoing
from services.notifications.deliveries.models import DeliveryAttempt
from services.notifications.deliveries.service import attempt_values
from services.notifications.main import MIGRATIONS
from services.notifications.notifications import fallback
from services.notifications.notifications.cancel import call_off, sequence_in, sequence_of
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.notifications.templates import render
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks.delivery import WebhookSender
from shared.contracts.notifications import Event
from shared.db import create_engine, run_migrations
from shared.observability import configure_logging
from shared.queue import Claim
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.worker")
SCHEDULE_CHANGES = (Event.session_rescheduled.value, Event.session_cancelled.value)
# The data of a session's reschedules and cancel (all, or those already sent to a person),
# prebuilt: the worker asks once per message that carries the session's time.
_CHANGES = core_select(col(Notification.data)).where(
    col(Notification.session_id) == bindparam("session_id"),
    col(Notification.event).in_(SCHEDULE_CHANGES),
)
_CHANGES_SENT_TO = _CHANGES.join(
    Delivery, col(Delivery.notification_id) == col(Notification.id)
).where(col(Delivery.person_id) == bindparam("person_id"), col(Delivery.status) == "sent")
# A delivery to send, locked, with its notification, and whether the session has had a
# reschedule or a cancel at all (`_called_off` reads them only then): one round trip.
_CHANGE = aliased(Notification)
_TAKE = (
    select(
        Delivery,
        Notification,
        exists()
        .where(
            col(_CHANGE.session_id) == col(Notification.session_id),
            col(_CHANGE.event).in_(SCHEDULE_CHANGES),
        )
        .label("changed"),
    )
    .join(Notification, col(Notification.id) == col(Delivery.notification_id))
    .where(col(Delivery.id) == bindparam("delivery_id"))
    .with_for_update(of=Delivery)
)
# A sent message's record, prebuilt and in Core (the common case; a failure goes through the
# ORM, as fallbacks and retries do): the delivery's new state, and the try.
_DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
_MARK_SENT = (
    update(_DELIVERY)
    .where(_DELIVERY.c.id == bindparam("delivery_id"))
    .values(
        status="sent",
        sent_at=bindparam("at"),
        locked_until=None,
        last_error=None,
        provider_message_id=bindparam("message_id"),
        attempts=_DELIVERY.c.attempts + 1,
    )
)
_RECORD_TRY = insert(DeliveryAttempt.__table__)  # type: ignore[attr-defined]
CLAIM = Claim(Delivery)
# Messages that tell a person the session's time (and carry a REQUEST invite by email).
SCHEDULE_ANNOUNCEMENTS = (
    Event.meeting_provisioned_member.value,
    Event.meeting_provisioned_host.value,
    Event.session_rescheduled.value,
)


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
        self.webhooks = WebhookSender(settings, engine, worker=self.name)
        self.connections = Connections(settings)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        try:
            # Webhooks have a queue of their own, so a slow receiver never holds up a message.
            await asyncio.gather(
                self._poll(self.run_once, stop), self._poll(self.webhooks.run_once, stop)
            )
        finally:
            await self.aclose()
        log.info("worker stopped", extra={"worker": self.name})

    async def aclose(self) -> None:
        """Close what the channels keep open (the HTTP client of Telegram and WhatsApp)."""
        await self.connections.aclose()

    async def _poll(self, work: Callable[[], Awaitable[int]], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                worked = await work()
            except Exception:
                log.exception("worker pass failed")
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.worker_poll_seconds)

    async def run_once(self) -> int:
        ids = await self.claim()
        try:
            # One after the other, oldest first: per person, messages leave in the order they
            # were made (a CANCEL never overtakes its REQUEST), and each outcome is recorded
            # before the next message goes, so a crash leaves at most one sent but unrecorded.
            for delivery_id in ids:
                await self.deliver(delivery_id)
        finally:
            await self.connections.end_batch()  # the batch's SMTP connection: QUIT
        return len(ids)

    async def claim(self) -> list[uuid.UUID]:
        """Lease a batch of due deliveries to this worker."""
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            ids = await CLAIM(
                db,
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
            taken = await self._take(db, delivery_id)
            if taken is None:
                return  # sent by another worker, or called off since it was claimed
            delivery, notification, changed = taken
            if await self._called_off(db, delivery, notification, changed=changed):
                return
            channel = CHANNELS.get(delivery.channel)
            try:
                if channel is None:
                    raise DeliveryFailed(f"no channel {delivery.channel!r}", permanent=True)
                message_id = await self._send(db, channel, delivery, notification)
            except DeliveryFailed as exc:
                delivery.attempts += 1
                await self._failed(db, delivery, notification, channel, exc)
                db.add(delivery)
                db.add(DeliveryAttempt(**attempt_values(delivery)))
                sent = False
            else:
                await self._record_sent(db, delivery, message_id)
                sent = True
            # Straight after the send: a crash between the other side's acceptance and this
            # commit is the one way a message goes out twice, so nothing else runs in between.
            await db.commit()
        if sent:
            log.info("delivered", extra={"channel": delivery.channel, "delivery": str(delivery.id)})

    async def _record_sent(
        self, db: AsyncSession, delivery: Delivery, message_id: str | None
    ) -> None:
        """The delivery sent, and its try, on the transaction holding its lock (the loaded
        `delivery` is left as it was read)."""
        connection = await db.connection()
        marked = {"delivery_id": delivery.id, "at": self.clock(), "message_id": message_id}
        await connection.execute(_MARK_SENT, marked)
        await connection.execute(_RECORD_TRY, attempt_values(delivery, status="sent"))

    async def _take(
        self, db: AsyncSession, delivery_id: uuid.UUID
    ) -> tuple[Delivery, Notification, bool] | None:
        """The delivery, locked until `db` commits, with its notification (read in the same
        statement, not locked), if it is still this worker's to send; and whether the session
        has had a reschedule or a cancel at all (most have not: then nothing more is read)."""
        # The row lock lasts through the send and the record of its outcome, so a worker whose
        # lease ran out mid-batch and one that has claimed the row since never both send it
        # (PostgreSQL; SQLite runs a single worker). A row locked now is waited for, not
        # skipped: besides another worker's send (then it is theirs once they commit, as
        # `locked_by` says), another worker's claim locks it for an instant whenever its
        # FOR UPDATE SKIP LOCKED reads the row as due from before our lease and PostgreSQL's
        # recheck then drops it. Skipping it then left the row leased here and unsent until the
        # lease ran out: two minutes late. This is the transaction's first lock, so it can be
        # part of no deadlock. Only the delivery's row: the notification's are other workers'.
        found = (await db.exec(_TAKE, params={"delivery_id": delivery_id})).first()
        if found is None or found[0].locked_by != self.name:
            log.warning(
                "lease ran out before the send, another worker has the delivery "
                "(the lease is shorter than a batch takes)",
                extra={"delivery": str(delivery_id)},
            )
            return None
        delivery, notification, changed = found
        return (delivery, notification, changed) if delivery.status == "pending" else None

    async def _called_off(
        self, db: AsyncSession, delivery: Delivery, notification: Notification, *, changed: bool
    ) -> bool:
        """Called off, or about to be: then it is cancelled here and not sent.

        A reminder of a time the session no longer has is called off for everyone: a later
        reschedule or the cancel carries a higher schedule sequence, even if its calling-off
        has not arrived yet. A message of the session's time held back (a retry) is called off
        for this person once a later reschedule or the cancel has reached them: sent now, it
        would arrive after it and put the old time, or a called-off session, back in their
        calendar."""
        people: list[uuid.UUID] | None = None  # everyone
        if notification.cancelled_at is None:
            if not changed:
                return False  # no reschedule or cancel to compare with
            later = False
            if notification.event == Event.session_reminder:
                later = await self._later_time(db, notification)
            elif notification.event in SCHEDULE_ANNOUNCEMENTS:
                later = await self._later_time(db, notification, sent_to=delivery.person_id)
                people = [delivery.person_id]
            if not later:
                return False
        await call_off(db=db, notification=notification, people=people, now=self.clock())
        await db.commit()
        log.info("scheduled delivery called off", extra={"delivery": str(delivery.id)})
        return True

    async def _later_time(
        self, db: AsyncSession, notification: Notification, *, sent_to: uuid.UUID | None = None
    ) -> bool:
        """The session has a reschedule or the cancel with a higher schedule sequence than
        this notification's (one already sent to `sent_to`, when given)."""
        if notification.session_id is None:
            return False
        connection = await db.connection()  # the transaction holding the delivery's lock
        if sent_to is None:
            found = await connection.execute(_CHANGES, {"session_id": notification.session_id})
        else:
            params = {"session_id": notification.session_id, "person_id": sent_to}
            found = await connection.execute(_CHANGES_SENT_TO, params)
        mine = sequence_of(notification)
        return any(sequence_in(data) > mine for (data,) in found)

    async def _send(
        self, db: AsyncSession, channel: Channel, delivery: Delivery, notification: Notification
    ) -> str | None:
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
        outgoing = Outgoing(delivery, notification, rendered)
        if channel.prepare is not None:
            outgoing = await channel.prepare(db, outgoing)
        return await channel.send(self.settings, outgoing, self.connections)

    async def _failed(
        self,
        db: AsyncSession,
        delivery: Delivery,
        notification: Notification,
        channel: Channel | None,
        exc: DeliveryFailed,
    ) -> None:
        reason = str(exc)
        if channel is None or exc.permanent or delivery.attempts >= channel.max_attempts:
            following = await fallback.give_up(
                db=db,
                delivery=delivery,
                notification=notification,
                status="unreachable" if exc.unreachable else "dead",
                reason=reason,
                unreachable=exc.unreachable,
                unconfigured=self.settings.unconfigured_channels,
            )
            log.error(
                "delivery given up",
                extra={
                    "delivery": str(delivery.id),
                    "reason": reason,
                    "next_channel": following.channel if following else None,
                },
            )
            return
        wait = channel.retry_delay(delivery.attempts)
        if exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        delivery.last_error, delivery.locked_until = reason[:500], None
        delivery.next_attempt_at = self.clock() + wait
        log.warning("delivery will be retried", extra={"delivery": str(delivery.id)})


async def main() -> None:
    settings = NotificationsSettings()
    configure_logging("notifications-worker", settings.log_level)
    engine = create_engine(settings.db_url, schema=settings.service_name, pool_size=4)
    await run_migrations(engine, migrations_dir=MIGRATIONS, schema=settings.service_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(settings, engine).run(stop)
    finally:
        await engine.dispose()


def run() -> None:
    """The worker's process, on the loop the services run on (uvicorn picks uvloop): its
    transports cost less per SMTP command and database round trip than asyncio's own (CPU
    per email in the bench: 3.83-4.12 ms on asyncio's loop, 3.31-3.57 ms on uvloop)."""
    uvloop.run(main())


if __name__ == "__main__":
    run()
