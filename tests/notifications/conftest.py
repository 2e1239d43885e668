"""Fixtures for the notifications tests: a real SMTP server, a real webhook receiver, workers,
and a quiet queue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks.delivery import WebhookSender
from services.notifications.webhooks.models import WebhookMessage
from services.notifications.worker import Worker
from shared.timeutil import utcnow
from tests.api.test_provisioning_races import settle
from tests.conftest import SERVICE_SECRET
from tests.notifications.support import Accept, SmtpServer, free_port
from tests.notifications.webhook_support import Clock, Receiver

PARKED_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """An SMTP address nothing listens on, until the test calls `.start()`."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(smtp_down: SmtpServer) -> SmtpServer:
    """A running SMTP server that keeps what it receives."""
    smtp_down.start()
    return smtp_down


@pytest.fixture
def worker_settings(
    database_url: Callable[[str], str], tmp_path: Path
) -> Callable[..., NotificationsSettings]:
    def build(**overrides: Any) -> NotificationsSettings:
        values: dict[str, Any] = {
            "env": "test",
            "notifications_database_url": database_url("notifications"),
            "service_secret": SERVICE_SECRET,
            "data_dir": tmp_path,
            "smtp_security": "none",
            "outside_call_timeout_seconds": 5.0,
            "log_level": "WARNING",
            **overrides,
        }
        return NotificationsSettings(**values)

    return build


@pytest.fixture
async def make_worker(
    apps: dict[str, FastAPI], worker_settings: Callable[..., NotificationsSettings]
) -> AsyncIterator[Callable[..., Worker]]:
    """A Worker on the notifications app's engine; SMTP at `port`, or the spool without one.
    What its channels keep open is closed after the test, as a worker does at shutdown."""
    built: list[Worker] = []

    def build(
        port: int | None = None, *, clock: Callable[[], datetime] = utcnow, **overrides: Any
    ) -> Worker:
        smtp = {"smtp_host": "127.0.0.1", "smtp_port": port} if port is not None else {}
        settings = worker_settings(**smtp, **overrides)
        built.append(Worker(settings, apps["notifications"].state.engine, clock=clock))
        return built[-1]

    yield build
    for worker in built:
        await worker.aclose()


@pytest.fixture
async def quiet_queue(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    """Park the deliveries other tests left pending, so a worker here sees only this test's.

    They get their own due time back afterwards. The api's relay is settled first: a message
    it still held (another test's provisioning) would arrive here after the parking.
    """
    await settle(apps)
    engine = apps["notifications"].state.engine
    async with AsyncSession(engine) as db:
        parked = (
            await db.exec(
                select(Delivery.id, Delivery.next_attempt_at).where(Delivery.status == "pending")
            )
        ).all()
        if parked:
            await db.exec(
                update(Delivery)
                .where(col(Delivery.id).in_([row[0] for row in parked]))
                .values(next_attempt_at=PARKED_UNTIL)
            )
        await db.commit()
    yield
    async with AsyncSession(engine) as db:
        for delivery_id, due in parked:
            await db.exec(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.status) == "pending")
                .values(next_attempt_at=due)
            )
        await db.commit()


def as_the_api(
    notifications: httpx.AsyncClient, service_token: Callable[[str], str], path: str
) -> Accept:
    """POST to an internal route of notifications with the api service's token."""

    async def post(body: dict[str, Any]) -> httpx.Response:
        return await notifications.post(
            path,
            json=body,
            headers={"Authorization": f"Bearer {service_token('notifications')}"},
        )

    return post


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An integrator's webhook endpoint: a real HTTP server on 127.0.0.1."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_networks_allowed(apps: dict[str, FastAPI], monkeypatch: pytest.MonkeyPatch) -> None:
    """Let this test subscribe a loopback receiver (the operator's setting, off by default)."""
    settings = apps["notifications"].state.settings
    monkeypatch.setattr(settings, "webhook_allow_private_networks", True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_sender(
    apps: dict[str, FastAPI], worker_settings: Callable[..., NotificationsSettings], clock: Clock
) -> Callable[..., WebhookSender]:
    """The worker's webhook loop on the notifications app's engine, on the test's clock."""

    def build(**overrides: Any) -> WebhookSender:
        settings = worker_settings(**{"webhook_allow_private_networks": True, **overrides})
        engine = apps["notifications"].state.engine
        return WebhookSender(settings, engine, worker="test-sender", now=clock)

    return build


@pytest.fixture
async def quiet_webhooks(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    """Settle the webhook messages other tests left pending, so a sender here sees only this
    test's (their receivers are gone)."""
    async with AsyncSession(apps["notifications"].state.engine) as db:
        await db.exec(
            update(WebhookMessage)
            .where(col(WebhookMessage.status) == "pending")
            .values(status="cancelled")
        )
        await db.commit()
    yield


@pytest.fixture
def accept(notifications: httpx.AsyncClient, service_token: Callable[[str], str]) -> Accept:
    """POST a notification request as the api service does."""
    return as_the_api(notifications, service_token, "/internal/v1/notifications")


@pytest.fixture
def accept_batch(notifications: httpx.AsyncClient, service_token: Callable[[str], str]) -> Accept:
    """POST several notification requests at once as the api service does."""
    return as_the_api(notifications, service_token, "/internal/v1/notifications/batch")


@pytest.fixture
def cancel(notifications: httpx.AsyncClient, service_token: Callable[[str], str]) -> Accept:
    """POST a calling-off of scheduled notifications as the api service does."""
    return as_the_api(notifications, service_token, "/internal/v1/notifications/cancel")
