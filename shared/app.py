"""What every service's app factory shares: middleware, error handlers, health and metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import check_database, create_engine, run_migrations
from shared.observability import Metrics, RequestContextMiddleware, configure_logging
from shared.problems import (
    ServiceUnavailable,
    document_problems,
    install_problem_handlers,
    problem_responses,
)
from shared.service_auth import ServiceTokens
from shared.service_client import ServiceClient
from shared.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_service_app(
    settings: ServiceSettings,
    *,
    database_url: str,
    migrations_dir: Path,
    routers: Sequence[APIRouter],
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app with its database migrated on start and the common routes mounted."""
    service = settings.service_name
    configure_logging(service, settings.log_level)
    engine = create_engine(
        database_url,
        schema=service,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    metrics = Metrics(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_migrations(engine, migrations_dir=migrations_dir, schema=service)
        app.state.service_client = ServiceClient(
            caller=service,
            tokens=app.state.service_tokens,
            metrics=metrics,
            timeout=settings.outside_call_timeout_seconds,
            # Tests route calls between in-process apps through this; None means real HTTP.
            transport=getattr(app.state, "service_transport", None),
            tls=settings.internal_tls,
        )
        if on_startup:
            await on_startup(app)
        if settings.gc_freeze_after_start:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if on_shutdown:
                await on_shutdown(app)
            await app.state.service_client.aclose()
            await engine.dispose()

    app = FastAPI(lifespan=lifespan, **fastapi_kwargs)
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.service_tokens = ServiceTokens(
        service=service,
        secret=settings.service_secret.get_secret_value(),
        ttl_seconds=settings.service_token_ttl_seconds,
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.include_router(_operations_router())
    for router in routers:
        # Any route that reads or writes answers 503 while its database is unreachable.
        app.include_router(router, responses=problem_responses(503))
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The database is reachable and migrations have run",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> dict[str, str]:
        engine: AsyncEngine = request.app.state.engine
        try:
            await check_database(engine)
        except Exception as exc:
            raise ServiceUnavailable("the database is not reachable") from exc
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        for refresh in request.app.state.metrics.refreshers:
            await refresh()
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
