"""The relay: delivers outbox messages to the other services, with retries, exactly once.

Messages are delivered concurrently, except within a lane (one session's calls to one
service), where each waits until the one before it is done or dead.

Each message kind has a handler that makes the call and, in the same transaction that marks
the message done, records what came back (and may enqueue the next message). The receivers
are idempotent on the message's key, so a message sent again after a crash changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from shared.db import is_unreachable
from shared.observability import bind_request_id, new_request_id
from shared.queue import Claim, backoff
from shared.service_client import ServiceCallFailed
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.outbox")

MAX_ATTEMPTS = 25  # with the backoff cap, about a day of trying before the message is dead
LEASE = timedelta(seconds=60)
BATCH = 20
# Deliveries at once. Each holds a pooled connection only to record the answer, never during
# the call, so they share a smaller pool.
CONCURRENCY = 16


@dataclass(frozen=True)
class Sent:
    """What a handler's call answered; `record` runs in the transaction marking it done."""

    record: Callable[[AsyncSession], Awaitable[None]]


Handler = Callable[[OutboxMessage, Any], Awaitable[Sent]]
_handlers: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


DeadHandler = Callable[[AsyncSession, OutboxMessage], Awaitable[None]]
_dead_handlers: dict[str, DeadHandler] = {}


def on_dead(kind: str) -> Callable[[DeadHandler], DeadHandler]:
    """What to undo when a message of this kind is given up on (runs in that transaction)."""

    def register(fn: DeadHandler) -> DeadHandler:
        _dead_handlers[kind] = fn
        return fn

    return register


PERMANENT_STATUS = frozenset({400, 404, 409, 410, 422})


async def give_up(db: AsyncSession, message: OutboxMessage, reason: str | None) -> None:
    """Mark the message dead (its lane moves on) and undo what its kind asks to undo, in the
    caller's transaction; the relay does it after the last try, an operator at will."""
    message.status, message.locked_until = "dead", None
    message.last_error = reason[:500] if reason else None
    log.error(
        "outbox message dead",
        extra={"kind": message.kind, "id": str(message.id), "reason": message.last_error},
    )
    if message.kind in _dead_handlers:
        await _dead_handlers[message.kind](db, message)


def _first_of_its_lane() -> ColumnElement[bool]:
    """No older message of the same lane is still pending (one being delivered included), so
    a lane's messages go one at a time, in the order enqueued, whichever relay takes them."""
    earlier: Any = aliased(OutboxMessage)
    this: Any = OutboxMessage
    return ~exists().where(
        earlier.lane == this.lane,
        earlier.status == "pending",
        or_(
            earlier.created_at < this.created_at,
            and_(earlier.created_at == this.created_at, earlier.id < this.id),
        ),
    )


_CLAIM = Claim(OutboxMessage, also=[_first_of_its_lane()], whole_rows=True)
_message: Any = OutboxMessage
# Done, if the lease is still this relay's: when it ran out during the call and another relay
# took the message, that one records it. The row stays locked until the answer is recorded,
# so a relay whose lease runs out now cannot take it meanwhile.
_DONE = (
    update(_message)
    .where(
        _message.id == bindparam("message_id"),
        _message.status == "pending",
        _message.locked_by == bindparam("worker"),
    )
    .values(status="done", done_at=bindparam("at"), locked_until=None, last_error=None)
    .execution_options(synchronize_session=False)
)


class OutboxRelay:
    """Delivers due messages, up to `concurrency` at once, as soon as they are committed.

    A commit that enqueues wakes it (`wake`, hooked in `services.api.db`), and so does every
    delivery that ends (its answer may have enqueued the next call, or freed a lane); the poll
    is only for retries coming due and for messages another process committed.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        poll_seconds: float,
        context: Any,
        lease: timedelta = LEASE,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.context = context
        self.concurrency = concurrency
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop taking messages; a delivery cut short keeps its lease and is sent again later,
        which the receiver's idempotency key makes harmless."""
        for task in [*([self._task] if self._task else []), *self._in_flight]:
            task.cancel()
        for task in [*([self._task] if self._task else []), *self._in_flight]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            # Cleared before looking, so a commit while we look is not missed.
            self._wake.clear()
            try:
                await self._fill()
            except Exception:
                log.exception("outbox relay pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def _fill(self) -> None:
        """Take as many due messages as there are free places, each delivered on its own."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return
        messages = await self._claim(free)
        for message in messages:
            task = asyncio.create_task(self._deliver(message), name="outbox-delivery")
            self._in_flight.add(task)
            task.add_done_callback(self._delivered)
        if len(messages) == free:
            self.wake()  # there may be more

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery failed", exc_info=task.exception())
        self.wake()

    async def drain_once(self) -> bool:
        """Deliver one batch of due messages now; True when there may be more."""
        messages = await self._claim(BATCH)
        await asyncio.gather(*(self._deliver(m) for m in messages))
        return len(messages) == BATCH

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        """Lease due messages to this relay; they come back loaded, as leased."""
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            messages = await _CLAIM(
                db, now=utcnow(), lease=self.lease, limit=limit, worker=self.worker
            )
            await db.commit()
        return messages

    async def _deliver(self, message: OutboxMessage) -> None:
        """Make the message's call (holding no connection), then mark it done and record the
        answer in one transaction."""
        bind_request_id(message.request_id or new_request_id())
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            try:
                sent = await _handlers[message.kind](message, self.context)
                params = {"message_id": message.id, "worker": self.worker, "at": utcnow()}
                if (await db.exec(_DONE, params=params)).rowcount == 0:
                    log.warning(
                        "outbox delivery outlasted its lease: left to the relay holding it now",
                        extra={"kind": message.kind, "id": str(message.id)},
                    )
                    return
                await sent.record(db)
                await db.commit()
            except Exception as exc:
                await db.rollback()
                await self._failed(db, message.id, exc)
                return
        log.info("outbox message delivered", extra={"kind": message.kind, "id": str(message.id)})

    def _holds(self, message: OutboxMessage) -> bool:
        return message.status == "pending" and message.locked_by == self.worker

    async def _failed(self, db: AsyncSession, message_id: Any, exc: Exception) -> None:
        # Locked first, as a delivery and the operator take it: giving up may then lock the
        # session (what its kind undoes), and a second relay's failure waits, then sees it dead.
        message = await db.get(OutboxMessage, message_id, with_for_update=True)
        if message is None or not self._holds(message):
            return
        if is_unreachable(exc):
            # No connection came free in time, or the database was out of reach for a moment:
            # tried again like a refused call. A traceback would say no more, and the logging
            # would keep the source of every file in it for the life of the process.
            log.warning(
                "outbox delivery put off: the database was out of reach",
                extra={"kind": message.kind, "error": type(exc).__name__},
            )
        elif not isinstance(exc, ServiceCallFailed):
            log.error("outbox handler failed", exc_info=exc, extra={"kind": message.kind})
        message.attempts += 1
        message.last_error = str(exc)[:500]
        message.locked_until = None
        permanent = isinstance(exc, ServiceCallFailed) and exc.status in PERMANENT_STATUS
        if permanent or message.attempts >= MAX_ATTEMPTS:
            await give_up(db, message, message.last_error)
        else:
            message.next_attempt_at = utcnow() + backoff(message.attempts)
            log.warning(
                "outbox message will be retried",
                extra={"kind": message.kind, "attempt": message.attempts},
            )
        db.add(message)
        await db.commit()
