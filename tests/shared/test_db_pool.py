"""PostgreSQL pooled connections: pinged before use only when they may have gone stale.

The ping is a round trip; pinging on every checkout cost each request one. A connection handed
back a moment ago, with nothing failed since, is used at once; one that rested or outlived a
failure is pinged, and a dead one is replaced before a request is spent on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.meetings.main import create_app as create_meetings
from services.meetings.settings import MeetingsSettings
from shared import db as shared_db
from tests.conftest import POSTGRES_URL


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
