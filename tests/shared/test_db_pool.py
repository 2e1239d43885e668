"""PostgreSQL pooled connections: pinged before use only when they may have gone stale.

The ping is a round trip; pinging on every checkout cost each request one. A connection handed
back a moment ago, with nothing failed since, is used at once; one that rested or outlived a
failure is pinged, and a dead one is replaced before a request is spent on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import pytest
from fastapi import Depends, FastAPI, Request
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.main import create_app as create_meetings
from services.meetings.settings import MeetingsSettings
from shared import db as shared_db
from shared.problems import NotFound, install_problem_handlers
from tests.conftest import POSTGRES_URL, client_for


@pytest.fixture
async def engine(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[AsyncEngine, list[Any]]]:
    engine = shared_db.create_engine(POSTGRES_URL, schema="public", pool_size=1)
    pings: list[Any] = []
    real = engine.dialect.do_ping

    def counted(connection: Any) -> bool:
        pings.append(connection)
        return bool(real(connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        yield engine, pings
    finally:
        await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def kill(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_connection_handed_back_a_moment_ago_is_used_without_a_ping(
    engine: tuple[AsyncEngine, list[Any]],
) -> None:
    engine_, pings = engine
    first = await backend_pid(engine_)
    assert len(pings) == 1  # a new connection has never been used: it is pinged
    for _ in range(5):
        assert await backend_pid(engine_) == first
    assert len(pings) == 1


async def test_a_connection_that_rested_is_pinged_and_a_dead_one_replaced(
    engine: tuple[AsyncEngine, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine_, pings = engine
    first = await backend_pid(engine_)
    await kill(first)
    monkeypatch.setattr(shared_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # any rest counts as long
    second = await backend_pid(engine_)  # no error reaches the caller
    assert second != first
    assert len(pings) >= 2


async def test_after_a_failure_the_next_checkout_is_pinged(
    engine: tuple[AsyncEngine, list[Any]],
) -> None:
    engine_, pings = engine
    first = await backend_pid(engine_)
    await kill(first)
    # Killed within the second it rested: the one request that finds out fails (a 503 to its
    # client, by the services' error handler); the failure makes every later checkout ping.
    with pytest.raises(exc.DBAPIError):
        await backend_pid(engine_)
    before = len(pings)
    assert await backend_pid(engine_) != first
    assert len(pings) > before


async def test_a_burst_past_the_pool_waits_for_kept_connections_and_opens_no_more() -> None:
    """Overflow connections were closed when handed back, so every burst past the pool paid
    new connections (and their statements prepared again). Now the pool's are all there is."""
    engine = shared_db.create_engine(POSTGRES_URL, schema="public", pool_size=3)
    opened: list[Any] = []
    event.listen(engine.sync_engine, "connect", lambda connection, _: opened.append(connection))

    async def hold() -> int:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.05)
            return int(pid)

    try:
        first = set(await asyncio.gather(*(hold() for _ in range(8))))
        second = set(await asyncio.gather(*(hold() for _ in range(8))))
    finally:
        await engine.dispose()
    assert len(opened) == 3
    assert first == second and len(first) == 3  # the same three served both bursts


async def test_a_services_pool_is_the_size_its_setting_says(tmp_path: Path) -> None:
    """LINGKAR_DATABASE_POOL_SIZE is what the deployment's connection sums rest on."""
    settings = MeetingsSettings(
        env="test",
        meetings_database_url=POSTGRES_URL,
        data_dir=tmp_path,
        log_level="WARNING",
        database_pool_size=7,
    )
    app = create_meetings(settings)
    try:
        pool = app.state.engine.sync_engine.pool
        assert pool.size() == 7
        assert pool._max_overflow == 0  # no pool API tells the overflow allowed
    finally:
        await app.state.engine.dispose()


# --- waiting for a connection, in turn ----------------------------------------------------------


async def test_requests_get_the_pools_connections_in_the_order_they_asked_for_one() -> None:
    """SQLAlchemy's pool gives a connection handed back to whichever request asks next, even one
    that has only just come; the request it had woken goes to the back of the queue. Under load
    the reads waited their turn over and over: their p99 tripled on a pool of 10."""
    engine = shared_db.create_engine(POSTGRES_URL, schema="public", pool_size=1)
    order: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    holding, done_holding = asyncio.Event(), asyncio.Event()

    async def use(name: str) -> None:
        async with engine.connect() as connection:
            order.append(name)
            await connection.execute(text("SELECT 1"))
            if name == "first":
                holding.set()
                await done_holding.wait()

    def latecomer(*_: Any) -> None:
        # A new request asks for a connection at the very moment "first" hands its own back.
        if not tasks:
            tasks.append(asyncio.get_running_loop().create_task(use("latecomer")))

    try:
        first = asyncio.create_task(use("first"))
        await holding.wait()
        waiting = []
        for i in range(3):
            waiting.append(asyncio.create_task(use(f"waiter-{i}")))
            await asyncio.sleep(0.01)
        event.listen(engine.sync_engine.pool, "checkin", latecomer)
        done_holding.set()
        await asyncio.gather(first, *waiting)
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()
    assert order == ["first", "waiter-0", "waiter-1", "waiter-2", "latecomer"]


def _engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


ReadDb = Annotated[
    AsyncConnection, Depends(shared_db.read_dependency(_engine_of), scope="function")
]
WriteDb = Annotated[
    AsyncSession, Depends(shared_db.session_dependency(_engine_of), scope="function")
]


def gated_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.engine = engine

    @app.get("/read")
    async def read_route(db: ReadDb) -> dict[str, int]:
        return {"one": (await db.execute(text("SELECT 1"))).scalar_one()}

    @app.get("/missing")
    async def missing_route(db: ReadDb) -> None:
        await db.execute(text("SELECT 1"))
        raise NotFound("no such thing")

    @app.post("/write")
    async def write_route(db: WriteDb) -> dict[str, int]:
        return {"one": (await db.exec(text("SELECT 1"))).scalar_one()}  # type: ignore[call-overload]

    return app


async def test_a_request_waits_for_a_connection_up_to_the_time_out_then_gets_503() -> None:
    engine = shared_db.create_engine(
        POSTGRES_URL, schema="public", pool_size=2, connect_timeout=0.3
    )
    app = gated_app(engine)
    try:
        async with client_for(app, "http://test") as client, AsyncExitStack() as held:
            for _ in range(2):  # both connections taken
                await held.enter_async_context(engine.connect())
            began = time.monotonic()
            read, write = await asyncio.gather(client.get("/read"), client.post("/write"))
            waited = time.monotonic() - began
            for answer in (read, write):
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert "database" in answer.json()["detail"]
            assert 0.3 <= waited < 2
        # The turns handed back: the next requests go through.
        async with client_for(app, "http://test") as client:
            answers = await asyncio.gather(*(client.get("/read") for _ in range(6)))
            assert [a.json() for a in answers] == [{"one": 1}] * 6
            assert (await client.post("/write")).json() == {"one": 1}
            failed = await asyncio.gather(*(client.get("/missing") for _ in range(3)))
            assert [a.status_code for a in failed] == [404] * 3
        # Both connections free again, and no more: none kept by a request that timed out or
        # failed, none handed to two.
        async with AsyncExitStack() as again:
            pids = set()
            for _ in range(2):
                connection = await asyncio.wait_for(
                    again.enter_async_context(engine.connect()), timeout=0.2
                )
                pids.add((await connection.execute(text("SELECT pg_backend_pid()"))).scalar())
            assert len(pids) == 2
            with pytest.raises(exc.TimeoutError):
                await again.enter_async_context(engine.connect())
    finally:
        await engine.dispose()


def test_only_postgresql_pools_hand_connections_out_in_turn(tmp_path: Path) -> None:
    """SQLite's pool may open more connections than it keeps, so no request waits in it."""
    sqlite = shared_db.create_engine(f"sqlite:///{tmp_path}/x.db", schema="x")
    assert not isinstance(sqlite.sync_engine.pool, shared_db.FairPool)
    postgres = shared_db.create_engine(POSTGRES_URL, schema="public", pool_size=3)
    assert isinstance(postgres.sync_engine.pool, shared_db.FairPool)
    assert postgres.sync_engine.pool.size() == 3


async def test_a_connection_handed_to_a_request_as_it_gives_up_goes_to_the_next_one() -> None:
    queue = shared_db.FairQueue(2)
    giving_up = asyncio.create_task(queue._wait(5))
    waiting = asyncio.create_task(queue._wait(5))
    await asyncio.sleep(0)  # both wait, in this order
    queue.put_nowait("connection")  # handed to the first ...
    giving_up.cancel()  # ... at the moment its client goes away
    with pytest.raises(asyncio.CancelledError):
        await giving_up
    assert await asyncio.wait_for(waiting, timeout=1) == "connection"
    queue.put_nowait("connection")  # and back: nobody waits, so it is kept for the next
    assert queue.get_nowait() == "connection"


async def test_a_waiter_whose_event_loop_is_gone_is_passed_over() -> None:
    queue = shared_db.FairQueue(2)
    other = asyncio.new_event_loop()
    gone = other.create_future()  # a waiter left behind by a test's closed loop
    other.close()
    queue._waiters.append(gone)
    waiting = asyncio.create_task(queue._wait(5))
    await asyncio.sleep(0)
    queue.put_nowait("connection")
    assert await asyncio.wait_for(waiting, timeout=1) == "connection"
