"""Outgoing HTTPS: a process reads the CA bundle once, however many clients it makes."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.meetings.providers.registry import ProviderRegistry
from services.meetings.settings import MeetingsSettings
from services.notifications.channels.base import Connections
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks.delivery import WebhookSender
from shared import tls
from shared.secret_box import SecretBox
from shared.service_auth import ServiceTokens
from shared.service_client import ServiceClient
from tests.conftest import SERVICE_SECRET, common_settings


async def test_every_client_of_a_process_shares_one_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        reads.append(args or kwargs)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    tls.client_context.cache_clear()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    common = common_settings(tmp_path)
    meetings = MeetingsSettings(**common, meetings_database_url=f"sqlite:///{tmp_path}/m.db")
    notifications = NotificationsSettings(
        **common, notifications_database_url=f"sqlite:///{tmp_path}/n.db"
    )
    tokens = ServiceTokens(service="api", secret=SERVICE_SECRET)
    clients = [
        ServiceClient(caller="api", tokens=tokens),
        ServiceClient(caller="meetings", tokens=tokens),
    ]
    registry = ProviderRegistry(
        settings=meetings, engine=engine, box=SecretBox(meetings.provider_secrets_key)
    )
    connections = Connections(notifications)
    channel_http = connections.http()
    webhooks = WebhookSender(notifications, engine=engine, worker="w1")
    try:
        assert len(reads) == 1, reads  # one read for five clients (it was one per client)
        assert webhooks.tls is tls.client_context()
    finally:
        for client in clients:
            await client.aclose()
        await registry.aclose()
        await channel_http.aclose()
        await engine.dispose()
        tls.client_context.cache_clear()
