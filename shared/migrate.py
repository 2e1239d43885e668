"""Apply every service's migrations and exit: the deployment's migration step.

    python -m shared.migrate

Each service also migrates on start (under a lock), so this is for deployments that want
migrations done before any replica starts (the Kubernetes Job, the compose `migrate` step).
"""

from __future__ import annotations

import asyncio
import sys

from services.api.main import MIGRATIONS as API_MIGRATIONS
from services.api.settings import ApiSettings
from services.meetings.main import MIGRATIONS as MEETINGS_MIGRATIONS
from services.meetings.settings import MeetingsSettings
from services.notifications.main import MIGRATIONS as NOTIFICATIONS_MIGRATIONS
from services.notifications.settings import NotificationsSettings
from shared.db import create_engine, run_migrations


async def migrate_all() -> None:
    for settings, migrations in (
        (ApiSettings(), API_MIGRATIONS),
        (MeetingsSettings(), MEETINGS_MIGRATIONS),
        (NotificationsSettings(), NOTIFICATIONS_MIGRATIONS),
    ):
        engine = create_engine(settings.db_url, schema=settings.service_name)
        try:
            await run_migrations(engine, migrations_dir=migrations, schema=settings.service_name)
        finally:
            await engine.dispose()
        print(f"{settings.service_name}: migrations current")


if __name__ == "__main__":
    asyncio.run(migrate_all())
    sys.exit(0)
