"""The database floor: the ceiling's bare FastAPI app plus PostgreSQL, and nothing of Lingkar.

    uvicorn --factory bench.floor:create_app      (LINGKAR_DATABASE_URL names the database)

`GET /sessions/{id}?statements=N` runs N primary-key reads of the session on a raw asyncpg
pool (no SQLAlchemy, no auth, no gate, no middleware) and answers the row as JSON. With N = 3,
the read's statement count, it is the fastest any read of a session with its members and
consent could be on this machine, with PostgreSQL sharing its cores: the read's share of the
ceiling is read against this floor's share, measured in the same run.

`GET /sessions?limit=N` is the list's floor: the first N sessions in the list's order and their
members, two statements, each session answered with its member ids (no gate, no consent).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Query, Request

_ROW = (
    "SELECT id::text, title, stage, scheduled_start, duration_minutes "
    "FROM api.guidance_session WHERE id = $1::uuid"
)

_PAGE = (
    "SELECT id, title, stage, scheduled_start, duration_minutes FROM api.guidance_session "
    "ORDER BY scheduled_start, id LIMIT $1"
)
_MEMBERS = (
    "SELECT session_id, student_id::text FROM api.session_participant "
    "WHERE session_id = ANY($1::uuid[])"
)


def create_app() -> FastAPI:
    url = os.environ["LINGKAR_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="floor", lifespan=lifespan)

    @app.get("/")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sessions/{session_id}")
    async def session(
        session_id: str, request: Request, statements: Annotated[int, Query(ge=1, le=10)] = 1
    ) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            for _ in range(statements):
                row = await conn.fetchrow(_ROW, session_id)
        return dict(row) if row else {}

    @app.get("/sessions")
    async def sessions(request: Request, limit: int = 50) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            page = await conn.fetch(_PAGE, limit)
            members = await conn.fetch(_MEMBERS, [r["id"] for r in page])
        items = {r["id"]: {**dict(r), "id": str(r["id"]), "members": []} for r in page}
        for session_id, student_id in members:
            items[session_id]["members"].append(student_id)
        return {"items": list(items.values())}

    return app
