"""The notifications service: accepts requests at once, delivers them in the background."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notifications.notifications.router import router as notifications_router
from services.notifications.settings import NotificationsSettings
from services.notifications.whatsapp import router as whatsapp
from shared.app import build_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MIGRATIONS,
        routers=[notifications_router, whatsapp.internal, whatsapp.public],
        title="Lingkar notifications",
        version="1.0.0",
    )
