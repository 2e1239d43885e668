"""Fixtures shared by the whole suite.

`--db=sqlite` (default) or `--db=postgresql`: every test that touches a database runs on the
chosen backend. PostgreSQL tests make a fresh database for the run and drop it afterwards
(server from LINGKAR_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres);
if the server is not there, the run fails, it never skips.

The three apps run in-process with their lifespans (migrations, relay); calls between them go
through `ServiceRouter`, over ASGI, with the same service tokens as over the network.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from services.api.main import create_app as create_api
from services.api.settings import ApiSettings
from services.meetings.main import create_app as create_meetings
from services.meetings.settings import MeetingsSettings
from services.notifications.main import create_app as create_notifications
from services.notifications.settings import NotificationsSettings
from tests import capture
from tests.factories import SchoolKit, new_school

POSTGRES_URL = os.environ.get(
    "LINGKAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVICE_SECRET = "test-service-secret-that-is-long-enough-000"
SECRET_KEY = "test-secret-key-that-is-long-enough-0000000"
MEETINGS_HOST = "http://meetings.internal"
NOTIFICATIONS_HOST = "http://notifications.internal"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="database backend for the run",
    )


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
async def database_url(
    db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[str], str]]:
    """A function giving each service's database URL for this run."""
    if db_backend == "sqlite":
        folder = tmp_path_factory.mktemp("db")
        yield lambda service: f"sqlite+aiosqlite:///{folder / service}.db"
        return
    name = f"lingkar_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield lambda _service: url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def common_settings(tmp: Path) -> dict[str, Any]:
    return {
        "env": "test",
        "service_secret": SERVICE_SECRET,
        "data_dir": tmp,
        "meetings_internal_url": MEETINGS_HOST,
        "notifications_internal_url": NOTIFICATIONS_HOST,
        "log_level": "WARNING",
        "gc_freeze_after_start": False,
    }


class ServiceRouter(httpx.AsyncBaseTransport):
    """Routes a service's outgoing calls to the in-process app named by the host."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.transports = {
            httpx.URL(host).host: httpx.ASGITransport(app=app) for host, app in apps.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no service at {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@pytest.fixture(scope="session")
def tmp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
async def apps(
    database_url: Callable[[str], str], tmp_data: Path
) -> AsyncIterator[dict[str, FastAPI]]:
    common = common_settings(tmp_data)
    api = create_api(
        ApiSettings(
            **common,
            api_database_url=database_url("api"),
            secret_key=SECRET_KEY,
            outbox_poll_seconds=0.05,
        )
    )
    meetings = create_meetings(
        MeetingsSettings(
            **common,
            meetings_database_url=database_url("meetings"),
            jitsi_default_url="https://jitsi.example.sch.id",
        )
    )
    notifications = create_notifications(
        NotificationsSettings(
            **common,
            notifications_database_url=database_url("notifications"),
        )
    )
    router = ServiceRouter({MEETINGS_HOST: meetings, NOTIFICATIONS_HOST: notifications})
    api.state.service_transport = router
    async with (
        meetings.router.lifespan_context(meetings),
        notifications.router.lifespan_context(notifications),
        api.router.lifespan_context(api),
    ):
        yield {"api": api, "meetings": meetings, "notifications": notifications}


capture.start()


def client_for(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url=base_url,
        event_hooks={"response": [capture.keep_body]},
    )


@pytest.fixture
async def api(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["api"], "https://api.test") as client:
        yield client


@pytest.fixture
async def meetings(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["meetings"], "https://meetings.test") as client:
        yield client


@pytest.fixture
async def notifications(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(apps["notifications"], "https://notifications.test") as client:
        yield client


@pytest.fixture
async def school(apps: dict[str, FastAPI], api: httpx.AsyncClient) -> SchoolKit:
    """A fresh school with its admin client's token: each test gets its own tenant."""
    return await new_school(apps["api"], api)


@pytest.fixture
async def other_school(apps: dict[str, FastAPI], api: httpx.AsyncClient) -> SchoolKit:
    return await new_school(apps["api"], api, name="Sekolah Lain")


@pytest.fixture
def service_token(apps: dict[str, FastAPI]) -> Callable[[str], str]:
    """A valid service token from the api service to the named receiver."""

    def issue(audience: str) -> str:
        token: str = apps["api"].state.service_tokens.issue(audience)
        return token

    return issue


@pytest.fixture
def channels_configured(apps: dict[str, FastAPI], monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment has a Telegram bot and a WhatsApp number, as the service sees it when it
    chooses a person's channels (the tests' workers get their own settings)."""
    settings = apps["notifications"].state.settings
    monkeypatch.setattr(settings, "telegram_bot_token", SecretStr("1:configured"))
    monkeypatch.setattr(settings, "whatsapp_access_token", SecretStr("configured"))
    monkeypatch.setattr(settings, "whatsapp_phone_number_id", "106540352242922")


@pytest.fixture(autouse=True)
def _no_leaked_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings in tests come from arguments, never from the developer's environment."""
    for key in list(os.environ):
        if key.startswith("LINGKAR_") and key not in (
            "LINGKAR_TEST_POSTGRES_URL",
            "LINGKAR_UPDATE_SCREENSHOTS",
        ):
            monkeypatch.delenv(key)
    yield
