"""The meetings service: provider meetings, members' admissions, and the join gate."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.accounts import service as accounts_service
from services.meetings.accounts.router import router as accounts_router
from services.meetings.join.router import router as join_router
from services.meetings.meetings.router import router as meetings_router
from services.meetings.participants.router import router as participants_router
from services.meetings.providers.registry import ProviderRegistry
from services.meetings.settings import MeetingsSettings
from services.meetings.zoom_webhooks.router import router as zoom_webhooks_router
from shared.app import build_service_app
from shared.secret_box import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: MeetingsSettings | None = None) -> FastAPI:
    settings = settings or MeetingsSettings()

    async def on_shutdown(app: FastAPI) -> None:
        await app.state.providers.aclose()

    app = build_service_app(
        settings,
        on_shutdown=on_shutdown,
        database_url=settings.db_url,
        migrations_dir=MIGRATIONS,
        routers=[
            meetings_router,
            participants_router,
            join_router,
            accounts_router,
            zoom_webhooks_router,
        ],
        title="Lingkar meetings",
        version="1.0.0",
    )
    box = SecretBox(settings.provider_secrets_key)
    app.state.secret_box = box
    app.state.providers = ProviderRegistry(settings=settings, engine=app.state.engine, box=box)

    async def zoom_webhook_secret(school_id: uuid.UUID) -> str | None:
        async with AsyncSession(app.state.engine) as db:
            return await accounts_service.webhook_secret(db=db, box=box, school_id=school_id)

    app.state.zoom_webhook_secret = zoom_webhook_secret
    return app
