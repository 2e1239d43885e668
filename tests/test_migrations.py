"""Each service's migrations build exactly the tables its models describe.

The apps never call create_all: a column added to a model without its migration would work in
no real database. Autogenerate's comparison of the migrated database against the models must
find nothing to do, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import MetaData

from services.api.db import ApiTable
from services.meetings.db import MeetingsTable
from services.notifications.db import NotificationsTable

METADATA = {
    "api": ApiTable.metadata,
    "meetings": MeetingsTable.metadata,
    "notifications": NotificationsTable.metadata,
}


def import_every_models_module(service: str) -> None:
    """Every `models` module of the service, so each table is in its metadata."""
    package = importlib.import_module(f"services.{service}")
    for found in pkgutil.walk_packages(package.__path__, prefix=f"services.{service}."):
        if found.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(found.name)


def differences(connection: Any, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("service", sorted(METADATA))
async def test_the_migrated_database_has_exactly_the_tables_of_the_models(
    service: str, apps: dict[str, FastAPI]
) -> None:
    import_every_models_module(service)
    metadata = METADATA[service]
    assert metadata.tables  # the models were found

    async with apps[service].state.engine.connect() as connection:
        found = await connection.run_sync(differences, metadata)

    assert found == [], f"{service}: models and migrations differ: {found}"
