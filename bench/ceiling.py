"""The ceiling: a bare FastAPI app answering a constant JSON body, served like the services.

    uvicorn --factory bench.ceiling:create_app

Whatever the machine, this is as fast as FastAPI on uvicorn answers here; the services' figures
are read as fractions of it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

BODY = {"status": "ok", "service": "ceiling"}


def create_app() -> FastAPI:
    app = FastAPI(title="ceiling")

    @app.get("/")
    async def constant() -> dict[str, Any]:
        return BODY

    @app.post("/")
    async def constant_post(body: dict[str, Any]) -> dict[str, Any]:
        return BODY

    return app
