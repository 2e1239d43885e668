"""The api service: the public REST API of Lingkar."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.oauth import LingkarAuthorizationServer
from services.api.auth.router import router as auth_router
from services.api.auth.tokens import AccessTokens
from services.api.consent.public_router import router as consent_public_router
from services.api.consent.router import router as consent_router
from services.api.consent.school_router import router as school_texts_router
from services.api.consent.tokens import ConsentTokens
from services.api.groups.router import router as groups_router
from services.api.notifications.router import router as notifications_router
from services.api.outbox.metrics import OutboxMetrics
from services.api.outbox.relay import OutboxRelay
from services.api.preferences import router as preferences
from services.api.privacy.router import router as privacy_router
from services.api.providers.router import router as providers_router
from services.api.record.router import router as record_router
from services.api.schools import service as school_service
from services.api.schools.router import router as platform_router
from services.api.sessions import calls  # noqa: F401 - registers the outbox handlers
from services.api.sessions.internal import router as internal_router
from services.api.sessions.router import router as sessions_router
from services.api.settings import ApiSettings
from services.api.users.router import router as users_router
from services.api.webhooks.router import router as webhooks_router
from services.api.whatsapp.router import router as whatsapp_router
from shared.app import build_service_app
from shared.db import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
RELAY_POOL_SIZE = 8  # a delivery holds one only to read and record
log = logging.getLogger("lingkar.api")


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    async def on_startup(app: FastAPI) -> None:
        if settings.env == "dev":
            async with AsyncSession(app.state.engine) as db:
                await school_service.ensure_dev_school(
                    db=db,
                    client_id=settings.dev_client_id,
                    client_secret=settings.dev_client_secret.get_secret_value(),
                )
                await db.commit()
            log.info(
                "dev mode: demo school and admin client ready",
                extra={"client_id": settings.dev_client_id},
            )
        # The relay's own few connections: a burst of requests holding the request pool
        # must not hold back the calls their commits asked for.
        app.state.relay_engine = create_engine(
            settings.db_url,
            schema=settings.service_name,
            pool_size=RELAY_POOL_SIZE,
            connect_timeout=settings.database_connect_timeout_seconds,
        )
        relay = OutboxRelay(
            engine=app.state.relay_engine,
            poll_seconds=settings.outbox_poll_seconds,
            context=app.state,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            concurrency=settings.outbox_concurrency,
        )
        app.state.outbox_relay = relay
        relay.start()

    async def on_shutdown(app: FastAPI) -> None:
        await app.state.outbox_relay.stop()
        await app.state.relay_engine.dispose()

    app = build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MIGRATIONS,
        routers=[
            auth_router,
            platform_router,
            users_router,
            preferences.me,
            preferences.people,
            groups_router,
            sessions_router,
            consent_router,
            consent_public_router,
            school_texts_router,
            privacy_router,
            providers_router,
            webhooks_router,
            whatsapp_router,
            record_router,
            notifications_router,
            internal_router,
        ],
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        title="Lingkar API",
        version="1.0.0",
        description="Online group guidance for schools: sessions, the ethics gate, consent, "
        "meetings and notifications. Errors are RFC 9457 problem+json.",
    )
    outbox_metrics = OutboxMetrics(app.state.engine)
    app.state.metrics.registry.register(outbox_metrics)
    app.state.metrics.refreshers.append(outbox_metrics.refresh)
    tokens = AccessTokens(
        secret=settings.secret_key.get_secret_value(),
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    app.state.access_tokens = tokens
    app.state.oauth_server = LingkarAuthorizationServer(tokens)
    app.state.consent_tokens = ConsentTokens(settings.secret_key.get_secret_value())
    return app
