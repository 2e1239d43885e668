"""The operator's commands: bring a school on, make a platform client, or free a held outbox
lane, without dev mode.

    python -m services.api.cli create-school --name "SMA Negeri 1" --timezone Asia/Jakarta
    python -m services.api.cli create-platform-client --name "operator"
    python -m services.api.cli outbox held
    python -m services.api.cli outbox retry MESSAGE_ID
    python -m services.api.cli outbox give-up MESSAGE_ID --reason "the school deleted the group"

The first two print the new client's id and secret once, as JSON; only a hash of the secret is
kept. The outbox commands print JSON too (see `services.api.outbox.operator`); a refusal goes
to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import MIGRATIONS
from services.api.outbox import operator
from services.api.schools import service as school_service
from services.api.schools.schemas import SchoolCreate
from services.api.settings import ApiSettings
from shared.db import create_engine, run_migrations
from shared.problems import DomainError


async def _command(db: AsyncSession, args: argparse.Namespace) -> Any:
    if args.command == "create-school":
        school, credentials = await school_service.create(
            db=db, data=SchoolCreate(name=args.name, timezone=args.timezone)
        )
        return {"school_id": str(school.id), **credentials.model_dump()}
    if args.command == "create-platform-client":
        credentials = await school_service.create_platform_client(db=db, name=args.name)
        return credentials.model_dump()
    if args.outbox == "held":
        return await operator.held(db, limit=args.limit)
    if args.outbox == "retry":
        return await operator.retry_now(db, args.message_id)
    return await operator.give_up(db, args.message_id, reason=args.reason)


async def _run(args: argparse.Namespace) -> Any:
    settings = ApiSettings()
    engine = create_engine(settings.db_url, schema="api")
    try:
        await run_migrations(engine, migrations_dir=MIGRATIONS, schema="api")
        async with AsyncSession(engine, expire_on_commit=False) as db:
            result = await _command(db, args)
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
    outbox = commands.add_parser("outbox", help="see and free lanes held by a failing call")
    actions = outbox.add_subparsers(dest="outbox", required=True)
    held = actions.add_parser("held", help="pending calls that have failed, and what waits")
    held.add_argument("--limit", type=int, default=50)
    retry = actions.add_parser("retry", help="try a pending call again now")
    retry.add_argument("message_id", type=uuid.UUID)
    give_up = actions.add_parser("give-up", help="give a pending call up; its lane moves on")
    give_up.add_argument("message_id", type=uuid.UUID)
    give_up.add_argument("--reason", required=True, help="kept with the message")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_run(args))
    except DomainError as refused:
        print(f"refused: {refused.detail}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
