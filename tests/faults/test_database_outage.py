"""The database gone for a while: requests are told 503 at once, and all is well once it is
back, without a restart.

On PostgreSQL the service reaches the server through a TCP proxy we control: stopped (every
open connection dropped, new ones refused, as when the server restarts or fails over) or
silent (new connections never answered, as behind a network partition: the connect time-out
bounds the wait). On
SQLite there is no server: the database file's folder goes away (as when its volume is
unmounted) and the connections the service held are lost with it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.api.main import create_app as create_api
from services.api.settings import ApiSettings
from services.notifications.main import create_app as create_notifications
from services.notifications.settings import NotificationsSettings
from tests.conftest import SECRET_KEY, client_for, common_settings
from tests.factories import SchoolKit, new_school
from tests.faults.proxy import Proxy

PROBLEM_JSON = "application/problem+json"
CONNECT_TIMEOUT = 1.0
# A request during the outage is answered within the connect time-out and some slack.
FAIL_FAST_SECONDS = CONNECT_TIMEOUT + 2.0


class Outage(Protocol):
    url: str

    async def begin(self) -> None: ...

    async def end(self) -> None: ...


@dataclass
class ServerOutage:
    """PostgreSQL behind our proxy: stopped (refused) or silent (a partition)."""

    url: str
    proxy: Proxy
    silent: bool

    async def begin(self) -> None:
        if self.silent:
            self.proxy.go_silent()
        else:
            await self.proxy.stop()

    async def end(self) -> None:
        if self.silent:
            self.proxy.silent = False
        else:
            await self.proxy.start()


@dataclass
class FileOutage:
    """SQLite: the database's folder goes away and the connections held are lost with it."""

    url: str
    folder: Path
    app: FastAPI | None = None

    async def begin(self) -> None:
        assert self.app is not None
        self.folder.rename(self.folder.with_name("gone"))
        await self.app.state.engine.dispose()

    async def end(self) -> None:
        self.folder.with_name("gone").rename(self.folder)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "outage_kind" in metafunc.fixturenames:
        kinds = ["folder-gone"]
        if metafunc.config.getoption("--db") == "postgresql":
            kinds = ["server-down", "partition"]
        metafunc.parametrize("outage_kind", kinds)


@pytest.fixture
async def outage(
    system_database: str | None, tmp_path: Path, outage_kind: str
) -> AsyncIterator[Outage]:
    if system_database is None:
        folder = tmp_path / "db"
        folder.mkdir()
        yield FileOutage(url=f"sqlite+aiosqlite:///{folder}/service.db", folder=folder)
        return
    server = make_url(system_database)
    proxy = Proxy(server.port or 5432)
    await proxy.start()
    through = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        yield ServerOutage(url=through, proxy=proxy, silent=outage_kind == "partition")
    finally:
        await proxy.stop()


def watch(outage: Outage, app: FastAPI) -> FastAPI:
    """The file outage drops the app's pooled connections, as losing the file would."""
    if isinstance(outage, FileOutage):
        outage.app = app
    return app


def started(app: FastAPI) -> AbstractAsyncContextManager[None]:
    return cast(AbstractAsyncContextManager[None], app.router.lifespan_context(app))


def api_app(outage: Outage, tmp_path: Path) -> FastAPI:
    app = create_api(
        ApiSettings(
            **common_settings(tmp_path),
            api_database_url=outage.url,
            secret_key=SECRET_KEY,
            database_connect_timeout_seconds=CONNECT_TIMEOUT,
        )
    )
    return watch(outage, app)


async def timed(call: Any) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    answer = await call
    return answer, time.monotonic() - began


def assert_unavailable(answer: httpx.Response, seconds: float) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    problem = answer.json()
    assert problem["type"].endswith("/service-unavailable"), problem
    assert "database" in problem["detail"], problem
    assert "Traceback" not in answer.text
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f}s"


async def a_session(kit: SchoolKit, group: dict[str, Any], title: str) -> httpx.Response:
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    body = {"group_id": group["id"], "title": title, "scheduled_start": start}
    return await kit.api.post(
        "/v1/sessions", json={**body, "duration_minutes": 60}, headers=kit.auth
    )


async def test_the_api_answers_503_while_its_database_is_gone_and_recovers_without_a_restart(
    outage: Outage, tmp_path: Path
) -> None:
    app = api_app(outage, tmp_path)
    async with started(app), client_for(app, "https://api.test") as api:
        kit = await new_school(app, api)
        group = await kit.group(members=2)
        before = (await a_session(kit, group, "Sebelum")).json()

        await outage.begin()
        read, took = await timed(api.get(f"/v1/sessions/{before['id']}", headers=kit.auth))
        assert_unavailable(read, took)
        write, took = await timed(a_session(kit, group, "Selama"))
        assert_unavailable(write, took)
        ready, took = await timed(api.get("/readyz"))
        assert_unavailable(ready, took)

        await outage.end()
        assert (await api.get("/readyz")).status_code == 200
        assert (await api.get(f"/v1/sessions/{before['id']}", headers=kit.auth)).status_code == 200
        after = await a_session(kit, group, "Sesudah")
        assert after.status_code == 201, after.text
        listed = await kit.get("/v1/sessions", params={"limit": 50})
        titles = sorted(s["title"] for s in listed["items"])
        assert titles == ["Sebelum", "Sesudah"], titles  # nothing lost, nothing doubled


async def test_the_notifications_service_is_not_ready_while_its_database_is_gone(
    outage: Outage, tmp_path: Path
) -> None:
    app = create_notifications(
        NotificationsSettings(
            **common_settings(tmp_path),
            notifications_database_url=outage.url,
            database_connect_timeout_seconds=CONNECT_TIMEOUT,
        )
    )
    async with started(watch(outage, app)), client_for(app, "https://notifications.test") as client:
        assert (await client.get("/readyz")).status_code == 200
        await outage.begin()
        ready, took = await timed(client.get("/readyz"))
        assert_unavailable(ready, took)
        await outage.end()
        assert (await client.get("/readyz")).status_code == 200
