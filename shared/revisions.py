"""Whether a service's schema is at its newest revision, told without importing Alembic.

A service checks this on every start. Alembic (with Mako and the SQL dialects it knows) would
cost the process about 12 MB for its whole life, so it is imported only when there is something
to migrate. The newest revisions are read from the migration scripts' own `revision` and
`down_revision` lines, the two Alembic reads to chain them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_CHAIN = ("revision", "down_revision")


def heads(migrations_dir: Path) -> set[str]:
    """The revisions that no other revision revises: what `alembic heads` names."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (migrations_dir / "versions").glob("*.py"):
        chain = _chain(script)
        revision, down = chain.get("revision"), chain.get("down_revision")
        if not isinstance(revision, str):
            raise ValueError(f"{script} names no revision")
        revisions.add(revision)
        revised.update([down] if isinstance(down, str) else down or ())  # type: ignore[arg-type]
    return revisions - revised


def _chain(script: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(script.read_text(), filename=str(script)).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets: list[ast.expr] = [node.target]
            value = node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _CHAIN:
                found[target.id] = ast.literal_eval(value)
    return found


async def is_current(conn: AsyncConnection, *, migrations_dir: Path, schema: str) -> bool:
    """The database records exactly the newest revisions (no version table yet: not current)."""
    if conn.dialect.name == "postgresql":
        table = f'"{schema}".alembic_version'
        exists = await conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table})
    else:
        table = "alembic_version"
        exists = await conn.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table},
        )
    if not exists:
        return False
    recorded = set((await conn.scalars(text(f"SELECT version_num FROM {table}"))).all())  # noqa: S608
    return recorded == heads(migrations_dir)
