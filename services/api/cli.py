"""The operator's commands: bring a school on, or make a platform client, without dev mode.

    python -m services.api.cli create-school --name "SMA Negeri 1" --timezone Asia/Jakarta
    python -m services.api.cli create-platform-client --name "operator"

Each prints the new client's id and secret once, as JSON; only a hash of the secret is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import MIGRATIONS
from services.api.schools import service as school_service
from services.api.schools.schemas import SchoolCreate
from services.api.settings import ApiSettings
from shared.db import create_engine, run_migrations


async def _run(args: argparse.Namespace) -> dict[str, object]:
    settings = ApiSettings()
    engine = create_engine(settings.db_url, schema="api")
    try:
        await run_migrations(engine, migrations_dir=MIGRATIONS, schema="api")
        async with AsyncSession(engine, expire_on_commit=False) as db:
            if args.command == "create-school":
                school, credentials = await school_service.create(
                    db=db, data=SchoolCreate(name=args.name, timezone=args.timezone)
                )
                result = {"school_id": str(school.id), **credentials.model_dump()}
            else:
                credentials = await school_service.create_platform_client(db=db, name=args.name)
                result = credentials.model_dump()
            await db.commit()
            return result
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.api.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    school = commands.add_parser("create-school", help="a school and its admin client")
    school.add_argument("--name", required=True)
    school.add_argument("--timezone", default="Asia/Jakarta")
    platform = commands.add_parser("create-platform-client", help="a client for /v1/platform")
    platform.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_run(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
