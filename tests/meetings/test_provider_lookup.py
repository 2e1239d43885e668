"""A provider lookup never makes a request hold two database connections, nor leaves a
transaction open through the provider's call (see `ProviderRegistry.__call__`)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.providers.registry import ProviderRegistry
from shared import db as shared_db
from shared.stages import Provider


def registry_on_one_connection(apps: dict[str, FastAPI]) -> ProviderRegistry:
    """The meetings registry on an engine of the same database whose pool is one connection."""
    state = apps["meetings"].state
    url = state.engine.sync_engine.url.render_as_string(hide_password=False)
    engine = shared_db.create_engine(url, schema="meetings", pool_size=1, connect_timeout=2)
    return ProviderRegistry(settings=state.settings, engine=engine, box=state.providers.box)


async def test_inside_a_transaction_the_account_is_read_on_the_requests_own_connection(
    apps: dict[str, FastAPI],
) -> None:
    registry = registry_on_one_connection(apps)
    try:
        async with AsyncSession(registry.engine) as db:
            await db.exec(text("SELECT 1"))  # type: ignore[call-overload]
            # The pool's only connection is this session's: a second would wait 2 s, then fail.
            adapter = await asyncio.wait_for(
                registry(Provider.jitsi, uuid.uuid4(), db=db), timeout=1
            )
            assert adapter is not None
            assert db.in_transaction()
    finally:
        await registry.aclose()
        await registry.engine.dispose()


async def test_with_no_transaction_open_the_lookup_leaves_none_open(
    apps: dict[str, FastAPI],
) -> None:
    """Making a meeting commits its intent, then looks the provider up and calls it: a
    transaction begun by the lookup would stay open (and hold a connection) through the call."""
    registry = registry_on_one_connection(apps)
    try:
        async with AsyncSession(registry.engine) as db:
            await db.exec(text("SELECT 1"))  # type: ignore[call-overload]
            await db.commit()
            await registry(Provider.jitsi, uuid.uuid4(), db=db)
            assert not db.in_transaction()
            # The one connection is free: something else gets it at once.
            async with registry.engine.connect() as other:
                assert (await other.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await registry.aclose()
        await registry.engine.dispose()
