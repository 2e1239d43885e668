"""Database plumbing shared by the services: engines, the per-request session, migrations.

SQLite (the embedded default) and PostgreSQL behave the same to the code above this module.
On PostgreSQL each service keeps its tables in a schema named after it, so the three services
can share one database server (or one database) and still never read each other's tables.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.revisions import is_current

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("lingkar.db")

_MIGRATION_LOCK_ID = 0x4C494E47  # "LING": one migrator at a time per database


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Accept the usual spellings (`postgresql://`, `sqlite:///`) and pick the async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"unsupported database {backend!r}: use PostgreSQL or SQLite")
    return parsed.render_as_string(hide_password=False)


def create_engine(
    url: str, *, schema: str, pool_size: int = 10, connect_timeout: float = 5.0
) -> AsyncEngine:
    """An engine for the service's schema; on PostgreSQL, a pool of `pool_size` connections kept
    open, and no more opened: a request finding them all busy waits for one, in turn
    (`FairQueue`)."""
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failed statement's values (counseling notes, names) never reach
        # the logs; the statement itself does.
        engine = create_async_engine(url, connect_args={"timeout": 15}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        # No overflow: an overflow connection is closed when handed back, so under a burst each
        # request past the pool paid a new connection (the SSL request, authentication, its
        # statements prepared again), about a tenth of the api's CPU during 50 grants at once.
        # Waiting for a kept one costs nothing (in turn: `FairQueue`).
        poolclass=FairPool,
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,
        pool_timeout=connect_timeout,
        connect_args={
            "server_settings": {"search_path": schema, "application_name": f"lingkar-{schema}"},
            "timeout": connect_timeout,
            "command_timeout": 30,
        },
    )
    _ping_when_unsure(engine)
    return engine


class FairQueue(AsyncAdaptedQueue[Any]):
    """The pool's queue of free connections, handing each one back to the longest waiter.

    SQLAlchemy's asyncio queue takes a free connection for whoever asks while a returned one
    sits in it, even a request that has only just come; the waiter that was woken for it finds
    it gone and goes to the back of the queue. At 32 reads in flight on a pool of 10 the read's
    p99 went from about 95 to 255 ms and its CPU up by a tenth to a quarter. So the pools were
    20, and each connection holds its own copy of every statement it has prepared (some 10 KB
    each): the api held 6 MB more after a bench run. Here a returned connection goes straight
    to the first request still waiting; a request takes a free one at once only when nobody
    waits. A wait past the pool's time-out ends as before: `TimeoutError`, answered with 503.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            # Passed over: one that stopped waiting, or one whose event loop is closed (tests).
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not block:
            return self.get_nowait()
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if not self._waiters:  # nobody ahead: a free connection is taken at once
            try:
                return self.get_nowait()
            except Empty:
                pass
        return await_(self._wait(timeout))

    async def _wait(self, seconds: float | None) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection at the very moment it gave up waiting: pass it on.
                self.put_nowait(waiter.result())
            if isinstance(error, TimeoutError):
                raise Empty() from None
            raise
        finally:
            if not waiter.done():  # left some other way (GeneratorExit): wait no longer
                waiter.cancel()


class FairPool(AsyncAdaptedQueuePool):
    _queue_class = FairQueue


# A pooled connection is pinged before use only when it may have gone stale: it has rested in
# the pool a while, or some statement has failed since it was last used. A connection handed
# back a moment ago with nothing failing since is used at once; that saves a round trip on
# every request under load, while a database restart or an outage is still noticed before a
# request is spent on a dead connection (SQLAlchemy's `pool_pre_ping`, made conditional).
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_unsure(engine: AsyncEngine) -> None:
    state = {"failed_at": 0.0}

    @event.listens_for(engine.sync_engine, "handle_error")
    def _failed(_: Any) -> None:
        state["failed_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _rested(_: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, _: Any) -> None:
        rested_since = record.info.get("checked_in_at")
        now = time.monotonic()
        if (
            rested_since is not None
            and now - rested_since < PING_AFTER_IDLE_SECONDS
            and rested_since > state["failed_at"]
        ):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (or makes a new one).
            raise exc.DisconnectionError(str(error)) from error


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


AFTER_COMMIT = "after_commit"
# Writes that must outlive a rolled-back request (the record of a refused decision): each is
# an async callable run after the rollback, when the failed transaction's locks are gone.
AFTER_ROLLBACK = "after_rollback"


def session_dependency(
    engine_of: Callable[[Any], AsyncEngine],
    prepare: Callable[[Any, AsyncSession], None] | None = None,
) -> Any:
    """A yield dependency: one session per request, committed on success, rolled back on error.

    Use it with `Depends(..., scope="function")` so the commit happens before the response is
    sent: a client never sees 201 for a row that failed to commit. Callables a service put in
    `session.info["after_commit"]` run once the commit has succeeded (e.g. waking a relay).
    """

    async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(engine_of(request), expire_on_commit=False) as session:
            if prepare:
                prepare(request, session)
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                for write in session.info.pop(AFTER_ROLLBACK, []):
                    await _run_after_rollback(write)
                raise
            for callback in session.info.pop(AFTER_COMMIT, []):
                callback()

    return get_session


def read_dependency(engine_of: Callable[[Any], AsyncEngine]) -> Any:
    """A yield dependency for a route that only reads: a bare connection, in autocommit.

    No ORM session (its set-up is a measurable part of a short read) and no BEGIN / COMMIT
    round trips. Each statement sees what was committed when it began: on PostgreSQL that is
    exactly what its default READ COMMITTED transaction gives each statement anyway. A route
    that writes, or must read under a lock, takes the session of `session_dependency`.
    """

    async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
        engine = engine_of(request)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    return get_connection


async def _run_after_rollback(write: Callable[[], Any]) -> None:
    try:
        await write()
    except Exception:
        log.exception("a record kept after a rollback could not be written")


async def serialize(session: AsyncSession, key: str) -> None:
    """Let one transaction at a time past this point for `key`, until it ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the database's write lock now
    with a write that changes nothing, so what this transaction reads next includes every
    commit of the one that held it before.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": digest})
    else:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = version_num WHERE 0")
        )


async def run_migrations(engine: AsyncEngine, *, migrations_dir: Path, schema: str) -> None:
    """Bring the service's schema to the newest revision (`alembic upgrade head`).

    Already there (every start but the first of a release): two small reads, and Alembic is not
    imported at all.
    """
    async with engine.connect() as conn:
        if await is_current(conn, migrations_dir=migrations_dir, schema=schema):
            return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(_upgrade, migrations_dir, schema)


def _upgrade(connection: Connection, migrations_dir: Path, schema: str) -> None:
    from alembic import command

    config = alembic_config(migrations_dir, schema)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def alembic_config(migrations_dir: Path, schema: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["schema"] = schema
    return config


def is_unreachable(error: BaseException) -> bool:
    """The database could not be reached or the connection was lost: worth a retry, not a bug.

    SQLite: the file cannot be opened, or is locked past the busy time-out. PostgreSQL: the
    connection was refused, timed out or broke (asyncpg's OSError and TimeoutError while
    connecting come through unwrapped), or no pooled connection came free in time.
    """
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, exc.OperationalError | exc.InterfaceError
        )
    if isinstance(error, exc.TimeoutError):
        return True
    return isinstance(error, OSError | TimeoutError) and _raised_by_the_pool(error)


def _raised_by_the_pool(error: BaseException) -> bool:
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_globals.get("__name__", "").startswith("sqlalchemy.pool"):
            return True
        trace = trace.tb_next
    return False


async def check_database(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
