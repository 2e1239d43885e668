"""Notification workers as real processes, one SIGKILLed mid-run: nothing lost, and a double only
where no sender can avoid one.

The SMTP server takes a message at its `250` to the end of DATA; the worker records `sent` in its
own database a moment later. Nothing makes those two one event, so a worker killed between them
leaves a delivery that did reach the server but reads as unsent; it is sent again, with the same
Message-ID (a receiving mail system folds the two). The tests hold the worker to exactly that:
every delivery arrives, and the only doubles are sends that were between those two points when
the process died, at most one per worker (a worker sends one message at a time).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.channels.email import message_id
from services.notifications.main import MIGRATIONS
from services.notifications.notifications.models import Delivery
from services.notifications.notifications.service import accept
from shared.contracts.notifications import NotificationRequest
from shared.db import create_engine, run_migrations
from shared.timeutil import as_utc, utcnow
from tests.notifications.support import free_port, notification_body, recipient
from tests.processes import Services, base_env

pytestmark = pytest.mark.integration

PER_WORKER = 1000  # 2000 in all on PostgreSQL
LEASE_SECONDS = 3.0
# "short" is shorter than a worker takes to send its batch of 20.
LEASES = {"short": "0.5", "long": str(LEASE_SECONDS)}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Two workers on PostgreSQL, the multi-worker store; the one worker SQLite runs, on SQLite."""
    if "worker_count" in metafunc.fixturenames:
        on_postgres = metafunc.config.getoption("--db") == "postgresql"
        count = 2 if on_postgres else 1
        metafunc.parametrize("worker_count", [count], ids=[f"{count}-worker"])
    if "lease" in metafunc.fixturenames:
        # On PostgreSQL a lease runs out while its worker is still busy with the batch, and the
        # other worker claims what is left of it; SQLite, one writer at a time, is run with
        # leases that outlast a batch (its supported setup is a single worker).
        on_postgres = metafunc.config.getoption("--db") == "postgresql"
        metafunc.parametrize("lease", ["short" if on_postgres else "long"])


@dataclass
class Arrivals:
    """What the SMTP server accepted: each message's Message-ID, in order of its `250`."""

    ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
        with self.lock:
            self.ids.append(str(headers["Message-ID"]))
        return "250 Message accepted for delivery"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)

    def __len__(self) -> int:
        with self.lock:
            return len(self.ids)


@pytest.fixture
def arrivals() -> Iterator[tuple[Arrivals, int]]:
    """A real SMTP server on loopback (aiosmtpd) that keeps the Message-ID of each message."""
    handler, port = Arrivals(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def services(
    tmp_path: Path, arrivals: tuple[Arrivals, int], system_database: str | None
) -> Iterator[Services]:
    """Where worker processes run: sending to the SMTP server, with short leases and polls."""
    ports = {"api": free_port(), "meetings": free_port(), "notifications": free_port()}
    env = base_env(tmp_path, ports, arrivals[1], system_database)
    env.update(
        {
            "LINGKAR_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
            "LINGKAR_WORKER_POLL_SECONDS": "0.1",
            "LINGKAR_WORKER_BATCH_SIZE": "20",
            "LINGKAR_LOG_LEVEL": "WARNING",
        }
    )
    services = Services(tmp=tmp_path, env=env, ports=ports)
    try:
        yield services
    finally:
        services.stop_all()


@dataclass
class Queue:
    """The deliveries table the workers share, as the test reads it."""

    engine: AsyncEngine

    async def fill(self, count: int) -> set[str]:
        """`count` deliveries stored by the service's own `accept`, ten people a notification;
        their Message-IDs."""
        async with AsyncSession(self.engine) as db:
            for _ in range(count // 10):
                body = notification_body([recipient() for _ in range(10)])
                await accept(db=db, request=NotificationRequest.model_validate(body))
            await db.commit()
        ids = await self.rows(select(Delivery.id))
        assert len(ids) == count
        return {message_id(i) for i in ids}

    async def rows(self, statement: Any) -> list[Any]:
        async with AsyncSession(self.engine) as db:
            return list((await db.exec(statement)).all())

    async def held_by(self, pid: int) -> dict[str, datetime]:
        """What worker process `pid` has leased and not recorded sent: Message-ID, lease end."""
        rows = await self.rows(
            select(Delivery.id, Delivery.locked_until).where(
                col(Delivery.locked_by).contains(f":{pid}:"), Delivery.status == "pending"
            )
        )
        return {message_id(i): as_utc(until) for i, until in rows}

    async def senders_of(self, message_ids: set[str]) -> set[str]:
        """The workers that recorded these deliveries sent."""
        ids = [uuid.UUID(m.strip("<>").split("@")[0]) for m in message_ids]
        return set(await self.rows(select(Delivery.locked_by).where(col(Delivery.id).in_(ids))))

    async def drained(self, seconds: float) -> None:
        """Wait until every delivery is recorded sent (each after the server took it)."""
        deadline = time.monotonic() + seconds
        unsent = select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        while (left := (await self.rows(unsent))[0]) > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{left} deliveries still unsent after {seconds} s")
            await asyncio.sleep(0.2)


@pytest.fixture
async def queue(services: Services) -> AsyncIterator[Queue]:
    """The workers' database, migrated, with nothing in it yet."""
    engine = create_engine(services.database_url("notifications"), schema="notifications")
    await run_migrations(engine, migrations_dir=MIGRATIONS, schema="notifications")
    try:
        yield Queue(engine)
    finally:
        await engine.dispose()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Figures a reader of the test output should see, captured or not."""
    with capsys.disabled():
        print(f"\n    {line}")


async def test_a_worker_killed_mid_run_loses_nothing_and_doubles_at_most_its_one_send_in_flight(
    worker_count: int,
    services: Services,
    queue: Queue,
    arrivals: tuple[Arrivals, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    box, total = arrivals[0], PER_WORKER * worker_count
    expected = await queue.fill(total)
    started = time.monotonic()
    for n in range(worker_count):
        services.start(f"worker-{n}")

    victim = services.running["worker-0"].pid

    async def a_third_arrived() -> bool:
        return len(box) >= total // 3

    async def victim_is_mid_batch() -> bool:
        return len(await queue.held_by(victim)) >= 2

    await until(a_third_arrived, 40, "a third of the mail")
    await until(victim_is_mid_batch, 10, "the worker to be holding leases")
    services.kill("worker-0")
    in_flight = await queue.held_by(victim)
    await asyncio.sleep(0.3)  # the server finishes reading what the dead worker had written
    arrived_before_restart = set(box.counts())
    # Nobody else can have sent those yet: their leases still run.
    assert utcnow() < min(in_flight.values(), default=utcnow() + timedelta(seconds=1))
    services.start("worker-0")
    await queue.drained(60)
    elapsed = time.monotonic() - started

    counts = box.counts()
    doubled = {mid for mid, n in counts.items() if n > 1}
    report(
        capsys,
        f"{worker_count} worker(s), one killed mid-run: {len(counts)} of {total} delivered, "
        f"{sum(counts.values()) - len(counts)} twice, {len(in_flight)} held by the killed "
        f"worker, {elapsed:.1f} s ({total / elapsed:.0f}/s)",
    )
    assert set(counts) == expected  # every notification reached the SMTP server
    assert in_flight, "the kill came between two batches: it tested no recovery"
    assert max(counts.values()) <= 2
    # A double is a delivery the dead worker held whose message the server had already taken:
    # sent once before the kill and once after; a worker has one send in flight at a time.
    assert doubled == set(in_flight) & arrived_before_restart
    assert len(doubled) <= 1
    # What the dead worker held was finished by the living (or by itself, restarted).
    assert not any(f":{victim}:" in name for name in await queue.senders_of(set(in_flight)))


async def test_two_workers_at_once_never_send_a_delivery_twice(
    lease: str,
    services: Services,
    queue: Queue,
    arrivals: tuple[Arrivals, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    box, names = arrivals[0], ("worker-0", "worker-1")
    expected = await queue.fill(PER_WORKER)
    started = time.monotonic()
    for name in names:
        services.overrides[name] = {
            "LINGKAR_WORKER_LEASE_SECONDS": LEASES[lease],
            "LINGKAR_WORKER_BATCH_SIZE": "50",
        }
        services.start(name)
    await queue.drained(60)
    elapsed = time.monotonic() - started

    counts = box.counts()
    taken_over = sum(services.log(name).count("lease ran out") for name in names)
    report(
        capsys,
        f"2 workers, {lease} leases: {len(counts)} of {len(expected)} delivered, "
        f"{sum(counts.values()) - len(counts)} twice, {taken_over} taken over from a lapsed "
        f"lease, {elapsed:.1f} s ({len(expected) / elapsed:.0f}/s)",
    )
    assert set(counts) == expected
    assert [mid for mid, n in counts.items() if n > 1] == []
    if lease == "short":  # the leases did run out mid-batch, and the other worker took over
        assert taken_over > 0
