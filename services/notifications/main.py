"""The notifications service: accepts requests at once, delivers them in the background."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notifications.deliveries.metrics import DeliveryMetrics
from services.notifications.deliveries.router import router as deliveries_router
from services.notifications.inbox.router import router as inbox_router
from services.notifications.notifications.router import router as notifications_router
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks.router import router as webhooks_router
from services.notifications.whatsapp import router as whatsapp
from shared.app import build_service_app
from shared.secret_box import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    app = build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MIGRATIONS,
        routers=[
            notifications_router,
            inbox_router,
            deliveries_router,
            webhooks_router,
            whatsapp.internal,
            whatsapp.public,
        ],
        title="Lingkar notifications",
        version="1.0.0",
    )
    delivery_metrics = DeliveryMetrics(app.state.engine)
    app.state.metrics.registry.register(delivery_metrics)
    app.state.metrics.refreshers.append(delivery_metrics.refresh)
    app.state.webhook_box = SecretBox(settings.webhook_secrets_key, what="the webhook secret")
    return app
