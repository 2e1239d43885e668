"""A call between services imports nothing: httpcore asks `sniffio` which async library runs,
several times per request, and without sniffio installed each ask was a failed import that
searched the whole of sys.path again (34 µs each)."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from http.server import ThreadingHTTPServer
from types import ModuleType

import pytest

from shared.service_auth import ServiceTokens
from shared.service_client import ServiceClient
from tests.conftest import SERVICE_SECRET
from tests.local_http import JsonOk, serving


class Searches(importlib.abc.MetaPathFinder):
    """Records every module name Python searches for; finds none itself."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        self.names.append(fullname)


@pytest.fixture
def http_server() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), JsonOk)) as port:
        yield f"http://127.0.0.1:{port}"


async def test_a_call_between_services_searches_for_no_module(http_server: str) -> None:
    client = ServiceClient(
        caller="api", tokens=ServiceTokens(service="api", secret=SERVICE_SECRET), tls=False
    )
    searches = Searches()
    try:
        await client.get("meetings", f"{http_server}/v1/x")  # the first call's imports
        sys.meta_path.insert(0, searches)
        try:
            for _ in range(3):
                assert (await client.get("meetings", f"{http_server}/v1/x")).json() == {}
        finally:
            sys.meta_path.remove(searches)
    finally:
        await client.aclose()
    assert searches.names == []
