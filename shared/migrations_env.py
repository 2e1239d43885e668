"""The body of every service's Alembic `env.py`: run on a connection handed in, or on the URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection


def run(target_metadata: MetaData, *, default_schema: str, url_from_settings: Any) -> None:
    config = context.config
    schema = config.attributes.get("schema", default_schema)
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, target_metadata, schema)
        return
    # Called from the alembic command line: connect with the service's own settings.
    from shared.db import create_engine

    engine = create_engine(url_from_settings(), schema=schema)

    async def _online() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on, target_metadata, schema)
        await engine.dispose()

    asyncio.run(_online())


def _run_on(connection: Connection, target_metadata: MetaData, schema: str) -> None:
    is_postgres = connection.dialect.name == "postgresql"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema if is_postgres else None,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
