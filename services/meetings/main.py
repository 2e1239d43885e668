"""The meetings service: provider meetings, members' admissions, and the join gate."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.meetings.join.router import router as join_router
from services.meetings.meetings.router import router as meetings_router
from services.meetings.participants.router import router as participants_router
from services.meetings.settings import MeetingsSettings
from shared.app import build_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: MeetingsSettings | None = None) -> FastAPI:
    settings = settings or MeetingsSettings()
    return build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MIGRATIONS,
        routers=[meetings_router, participants_router, join_router],
        title="Lingkar meetings",
        version="1.0.0",
    )
