"""A start on a current schema is one read and no Alembic; a start behind it still migrates.

The newest revisions are read from the scripts' text (`shared.revisions`), so they must be the
ones Alembic itself names, and a schema one revision behind must not pass for current.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications.main import MIGRATIONS as NOTIFICATIONS_MIGRATIONS
from shared.db import alembic_config, create_engine, run_migrations
from shared.revisions import heads, is_current

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api", "meetings", "notifications")


@pytest.mark.parametrize("service", SERVICES)
def test_the_newest_revisions_are_the_ones_alembic_names(service: str) -> None:
    migrations = ROOT / "services" / service / "migrations"
    script = ScriptDirectory.from_config(alembic_config(migrations, service))

    assert heads(migrations) == set(script.get_heads())


def test_a_merge_revision_is_the_one_head_of_two_branches(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, body in {
        "base": 'revision = "a"\ndown_revision = None\n',
        "left": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
        "right": 'revision = "c"\ndown_revision = "a"\nother = compute()\n',
        "merge": 'revision = "d"\ndown_revision = ("b", "c")\n',
    }.items():
        (versions / f"{name}.py").write_text(body)

    assert heads(tmp_path) == {"d"}
    (versions / "merge.py").unlink()
    assert heads(tmp_path) == {"b", "c"}


@pytest.fixture
async def fresh_schema(
    db_backend: str, database_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """A database URL and a schema nobody has migrated yet."""
    schema = f"revisions_{uuid.uuid4().hex[:8]}"
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", schema
        return
    url = database_url("notifications")
    yield url, schema
    engine = create_engine(url, schema=schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def current(engine: AsyncEngine, schema: str) -> bool:
    async with engine.connect() as conn:
        return await is_current(conn, migrations_dir=NOTIFICATIONS_MIGRATIONS, schema=schema)


def upgrade_to(connection: Connection, schema: str, revision: str) -> None:
    config = alembic_config(NOTIFICATIONS_MIGRATIONS, schema)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_a_schema_one_revision_behind_is_migrated_to_the_newest(
    fresh_schema: tuple[str, str],
) -> None:
    url, schema = fresh_schema
    engine = create_engine(url, schema=schema)
    try:
        assert not await current(engine, schema)  # no version table at all
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(upgrade_to, schema, "0005")
        assert not await current(engine, schema)

        await run_migrations(engine, migrations_dir=NOTIFICATIONS_MIGRATIONS, schema=schema)

        assert await current(engine, schema)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT id, idempotency_key FROM cancellation"))
    finally:
        await engine.dispose()


MIGRATE_AND_TELL = textwrap.dedent(
    """
    import asyncio, sys
    from services.notifications.main import MIGRATIONS
    from shared.db import create_engine, run_migrations

    async def main():
        engine = create_engine(sys.argv[1], schema=sys.argv[2])
        await run_migrations(engine, migrations_dir=MIGRATIONS, schema=sys.argv[2])
        await engine.dispose()

    asyncio.run(main())
    print("alembic imported" if "alembic" in sys.modules else "alembic not imported")
    """
)


async def test_a_start_on_a_current_schema_does_not_import_alembic(
    fresh_schema: tuple[str, str],
) -> None:
    url, schema = fresh_schema

    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", MIGRATE_AND_TELL, url, schema],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )
        return done.stdout.strip().splitlines()[-1]

    assert start() == "alembic imported"  # the first start migrates
    assert start() == "alembic not imported"


def test_the_services_import_no_migration_tool_and_no_provider_sdk() -> None:
    """Each costs every process megabytes for its whole life; they load when first used."""
    probe = (
        "import sys\n"
        "import services.api.main, services.meetings.main, services.notifications.main\n"
        "heavy = ('alembic', 'mako', 'googleapiclient', 'google.oauth2', 'icalendar')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )

    assert done.stdout.strip() == "[]"
