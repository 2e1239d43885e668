"""Notification workers as real processes, one SIGKILLed mid-run: nothing is lost, and a message
goes out twice only where no sender can prevent it.

The SMTP server takes a message with its `250` to the end of DATA; the worker records `sent` in
its own database a moment later. Nothing makes those two one event, so a worker killed between
them leaves a delivery that reached the server but reads as unsent, and it is sent again, with
the same Message-ID (a receiving mail system folds the two). The kill test kills the worker at
exactly that moment, the worst one, and holds the system to it: every message arrives, and the
one sent twice is the delivery the dead worker had in flight, nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
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

PER_WORKER = 1000  # 2,000 deliveries for the two workers on PostgreSQL
LEASE_SECONDS = 3.0
# "short" runs out long before a worker has sent its batch of 50 (a send takes milliseconds);
# "long" outlasts the batch.
LEASES = {"short": "0.1", "long": "60"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Two workers on PostgreSQL, the multi-worker store; on SQLite the one worker it runs."""
    on_postgres = metafunc.config.getoption("--db") == "postgresql"
    if "worker_count" in metafunc.fixturenames:
        count = 2 if on_postgres else 1
        metafunc.parametrize("worker_count", [count], ids=[f"{count}-worker"])
    if "lease" in metafunc.fixturenames:
        # On PostgreSQL leases run out while their worker is still busy with the batch and the
        # other worker claims the rest of it. SQLite has no row locks to keep two workers apart
        # then; its two workers get leases that outlast a batch (it is meant to run one).
        metafunc.parametrize("lease", ["short" if on_postgres else "long"])


@dataclass
class Arrivals:
    """What the SMTP servers took: for each Message-ID, the times of its `250`s."""

    times: dict[str, list[datetime]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, mid: str) -> None:
        with self.lock:
            self.times.setdefault(mid, []).append(utcnow())

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {mid: len(times) for mid, times in self.times.items()}

    def of(self, mid: str) -> list[datetime]:
        with self.lock:
            return list(self.times.get(mid, []))


class Mailroom:
    """An aiosmtpd handler: records each message, then may call `tripwire` before answering."""

    def __init__(self, arrivals: Arrivals, tripwire: Callable[[str], None] | None) -> None:
        self.arrivals, self.tripwire = arrivals, tripwire

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mid = str(BytesHeaderParser().parsebytes(envelope.original_content or b"")["Message-ID"])
        self.arrivals.record(mid)
        if self.tripwire:
            self.tripwire(mid)
        return "250 Message accepted for delivery"


class SmtpServers:
    """Real SMTP servers on loopback (aiosmtpd), all recording into one `Arrivals`."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.controllers: list[Controller] = []

    def serve(self, tripwire: Callable[[str], None] | None = None) -> int:
        """Start one more server; its port."""
        port = free_port()
        handler = Mailroom(self.arrivals, tripwire)
        self.controllers.append(Controller(handler, hostname="127.0.0.1", port=port))
        self.controllers[-1].start()
        return port

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServers]:
    servers = SmtpServers()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def services(tmp_path: Path, smtp: SmtpServers, system_database: str | None) -> Iterator[Services]:
    """Where the worker processes run: mail to an SMTP server of `smtp`, short leases and polls."""
    ports = {"api": free_port(), "meetings": free_port(), "notifications": free_port()}
    env = base_env(tmp_path, ports, smtp.serve(), system_database)
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
        """Wait until every delivery is recorded sent (each only after the server took it)."""
        unsent = select(func.count()).select_from(Delivery).where(Delivery.status != "sent")

        async def nothing_unsent() -> bool:
            return bool((await self.rows(unsent))[0] == 0)

        await until(nothing_unsent, seconds, "every delivery to be recorded sent", every=0.2)


@pytest.fixture
async def queue(services: Services) -> AsyncIterator[Queue]:
    """The workers' database, migrated, with nothing in it yet."""
    engine = create_engine(services.database_url("notifications"), schema="notifications")
    await run_migrations(engine, migrations_dir=MIGRATIONS, schema="notifications")
    try:
        yield Queue(engine)
    finally:
        await engine.dispose()


async def until(
    condition: Callable[[], Awaitable[bool]], seconds: float, what: str, every: float = 0.05
) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Figures a reader of the test output should see, captured or not."""
    with capsys.disabled():
        print(f"\n    {line}")


@dataclass
class KillSwitch:
    """Kills a worker the moment the SMTP server has taken its n-th message, before the `250`
    reaches it: the message is at the server, and the worker never hears so."""

    after: int
    pid: int = 0
    taken: int = 0
    message: str | None = None
    fired: threading.Event = field(default_factory=threading.Event)

    def __call__(self, mid: str) -> None:
        self.taken += 1
        if self.taken == self.after and self.pid:
            os.kill(self.pid, signal.SIGKILL)
            self.message = mid
            self.fired.set()


async def test_a_worker_killed_as_the_server_takes_a_message_loses_nothing_and_doubles_only_that(
    worker_count: int,
    services: Services,
    queue: Queue,
    smtp: SmtpServers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    total = PER_WORKER * worker_count
    expected = await queue.fill(total)
    kill = KillSwitch(after=PER_WORKER // 3)
    # The victim has an SMTP server of its own, so the switch knows whose message it took.
    services.overrides["worker-0"] = {"LINGKAR_SMTP_PORT": str(smtp.serve(tripwire=kill))}
    started = time.monotonic()
    for n in range(worker_count):
        services.start(f"worker-{n}")
    kill.pid = victim = services.running["worker-0"].pid

    async def killed() -> bool:
        return kill.fired.is_set()

    await until(killed, 90, "the kill switch")
    services.kill("worker-0")  # reaps it
    in_flight = await queue.held_by(victim)
    services.start("worker-0")
    await queue.drained(120)
    elapsed = time.monotonic() - started

    counts = smtp.arrivals.counts()
    doubled = {mid for mid, n in counts.items() if n > 1}
    report(
        capsys,
        f"{worker_count} worker(s), one killed mid-run: {len(counts)} of {total} delivered, "
        f"{sum(counts.values()) - len(counts)} twice, {len(in_flight)} held by the killed "
        f"worker, {elapsed:.1f} s ({total / elapsed:.0f}/s)",
    )
    assert set(counts) == expected  # every notification reached the SMTP server
    # Exactly one message went out twice: the one the server took as the worker died. The
    # database had it as leased by the dead worker and unsent; nobody else could take it before
    # the lease ran out, and then it was sent again.
    assert kill.message is not None
    assert doubled == {kill.message}
    assert kill.message in in_flight
    first, second = smtp.arrivals.of(kill.message)
    assert first < in_flight[kill.message] <= second
    # The rest of what it held was sent once, by the living (or by itself, restarted).
    assert not any(f":{victim}:" in name for name in await queue.senders_of(set(in_flight)))


async def test_two_workers_at_once_never_send_a_delivery_twice(
    lease: str,
    services: Services,
    queue: Queue,
    smtp: SmtpServers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = ("worker-0", "worker-1")
    expected = await queue.fill(PER_WORKER)
    started = time.monotonic()
    for name in names:
        services.overrides[name] = {
            "LINGKAR_WORKER_LEASE_SECONDS": LEASES[lease],
            "LINGKAR_WORKER_BATCH_SIZE": "50",
        }
        services.start(name)
    await queue.drained(120)
    elapsed = time.monotonic() - started

    counts = smtp.arrivals.counts()
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
