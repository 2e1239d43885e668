"""No request waits on a thread-pool hop: every endpoint and every dependency is async.

FastAPI runs a plain `def` endpoint or dependency (or a class used as one) in a worker thread:
a hop there and back on every request, and threads that each keep memory. A dependency that
awaits nothing is still written `async def` (see `shared.service_auth.require_service`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # Included routers (FastAPI wraps them; older versions copied their routes in).
        inner = getattr(route, "original_router", None) or getattr(route, "app", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from api_routes(inner.routes)


def _async(call: Any) -> bool:
    if inspect.isclass(call):
        return False
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else call.__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def sync_parts(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        if dependency.call is not None and not _async(dependency.call):
            yield getattr(dependency.call, "__qualname__", repr(dependency.call))
        yield from sync_parts(dependency)


def test_every_endpoint_and_dependency_of_every_service_is_async(
    apps: dict[str, FastAPI],
) -> None:
    found: dict[str, set[str]] = {}
    for name, app in apps.items():
        routes = {r.unique_id: r for r in api_routes(app.routes)}.values()
        assert len(routes) >= 10, (name, len(routes))  # the walk reached the routers
        for route in routes:
            where = f"{name} {sorted(route.methods or ())} {route.path}"
            if not _async(route.endpoint):
                found.setdefault(where, set()).add(route.endpoint.__qualname__)
            found.setdefault(where, set()).update(sync_parts(route.dependant))
    assert {where: parts for where, parts in found.items() if parts} == {}
