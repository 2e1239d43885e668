"""What operators rely on: health and readiness, metrics, request ids, and safe 500s."""

from __future__ import annotations

import gc
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from services.meetings.main import MIGRATIONS as MEETINGS_MIGRATIONS
from services.meetings.settings import MeetingsSettings
from shared.app import build_service_app
from shared.observability import JsonFormatter
from tests.conftest import client_for

PROBLEM_JSON = "application/problem+json"
SERVICES = ["api", "meetings", "notifications"]


@pytest.fixture
async def client(apps: dict[str, FastAPI], request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with client_for(apps[request.param], f"https://{request.param}.test") as c:
        yield c


@pytest.mark.parametrize("client", SERVICES, indirect=True)
async def test_healthz_says_the_process_is_up(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.parametrize("client", SERVICES, indirect=True)
async def test_readyz_says_the_database_is_reachable(client: httpx.AsyncClient) -> None:
    answer = await client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready"}


@pytest.mark.parametrize("client", SERVICES, indirect=True)
async def test_metrics_are_prometheus_text_with_request_latency(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    await client.get("/no-such-route")
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert "# TYPE lingkar_http_request_duration_seconds histogram" in text
    assert "lingkar_http_request_duration_seconds_count{" in text
    # Labelled by route template and status, so a 404 and a health check are told apart.
    assert 'route="/healthz"' in text
    assert 'route="unmatched"' in text and 'status="404"' in text


async def test_metrics_label_routes_by_template_never_by_raw_path(
    apps: dict[str, FastAPI],
) -> None:
    async with client_for(apps["api"], "https://api.test") as c:
        secret_looking = "0d5a3f0e-1c57-4f6b-9d70-3d3c8a1f2b99"
        await c.get(f"/v1/users/{secret_looking}")
        text = (await c.get("/metrics")).text
    assert 'route="/v1/users/{user_id}"' in text
    assert secret_looking not in text


@pytest.mark.parametrize("client", SERVICES, indirect=True)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/nowhere"), ("POST", "/healthz")],
)
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    first = await client.request(method, path)
    second = await client.request(method, path)
    for answer in (first, second):
        assert len(answer.headers["x-request-id"]) >= 16
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("client", SERVICES, indirect=True)
async def test_an_incoming_request_id_is_echoed_back(client: httpx.AsyncClient) -> None:
    ok = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert ok.headers["x-request-id"] == "abc-123"
    missing = await client.get("/nowhere", headers={"X-Request-ID": "abc-123"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "abc-123"
    assert missing.headers["content-type"].startswith(PROBLEM_JSON)
    assert missing.json()["request_id"] == "abc-123"


@pytest.mark.parametrize("incoming", ["<script>alert(1)</script>", "a b", "x" * 129])
async def test_an_implausible_request_id_is_replaced_not_echoed(
    apps: dict[str, FastAPI], incoming: str
) -> None:
    async with client_for(apps["api"], "https://api.test") as c:
        answer = await c.get("/healthz", headers={"X-Request-ID": incoming})
    assert answer.headers["x-request-id"] != incoming
    assert answer.headers["x-request-id"].isalnum()


# --- an unexpected error -------------------------------------------------------------------


class _Lines(logging.Handler):
    """Keeps each record as the JSON line the services write."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter("meetings"))
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


def meetings_settings(
    tmp_path: Path, database_url: str, *, gc_freeze_after_start: bool = False
) -> MeetingsSettings:
    """A meetings service's settings for a single app of these tests."""
    return MeetingsSettings(
        env="test",
        meetings_database_url=database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        gc_freeze_after_start=gc_freeze_after_start,
    )


@pytest.fixture
async def crashing_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """A meetings-like app with one route that fails in a way nobody planned for."""
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("secret-detail")

    settings = meetings_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}")
    app = build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MEETINGS_MIGRATIONS,
        routers=[boom],
        title="crash test",
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def log_lines(crashing_app: FastAPI) -> Iterator[_Lines]:
    # After the app is built: building it points the root logger at its own JSON handler.
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def _call(app: FastAPI, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://crash.test") as c:
        return await c.get("/boom", headers=headers)


async def test_an_unexpected_error_is_a_500_problem_with_a_correlation_id_and_no_details(
    crashing_app: FastAPI, log_lines: _Lines
) -> None:
    answer = await _call(crashing_app)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body = answer.json()
    assert body["status"] == 500
    assert body["type"].endswith("internal-error")
    request_id = answer.headers["x-request-id"]
    assert request_id
    assert body["correlation_id"] == request_id
    assert request_id in body["detail"]
    for leak in ("secret-detail", "RuntimeError", "Traceback", 'File "', "explode"):
        assert leak not in answer.text

    errors = [e for e in log_lines.entries() if e["level"] == "error"]
    assert len(errors) == 1, errors
    line = errors[0]
    assert line["request_id"] == request_id
    assert line["correlation_id"] == request_id
    assert line["error_type"] == "RuntimeError"
    # The details the client never saw are in the log, where the correlation id leads.
    assert "secret-detail" in line["exc"]


async def test_an_unexpected_error_keeps_the_callers_request_id_as_correlation_id(
    crashing_app: FastAPI, log_lines: _Lines
) -> None:
    answer = await _call(crashing_app, **{"X-Request-ID": "abc-123"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "abc-123"
    assert answer.json()["correlation_id"] == "abc-123"
    assert "secret-detail" not in answer.text
    logged = [e for e in log_lines.entries() if e["level"] == "error"]
    assert [e["request_id"] for e in logged] == ["abc-123"]


async def test_the_crashing_app_still_answers_normally_after_the_error(
    crashing_app: FastAPI, log_lines: _Lines
) -> None:
    await _call(crashing_app)
    transport = httpx.ASGITransport(app=crashing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://crash.test") as c:
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/readyz")).status_code == 200
        metrics = (await c.get("/metrics")).text
    assert 'route="/boom"' in metrics and 'status="500"' in metrics


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = meetings_settings(tmp_path, "postgresql://nobody@127.0.0.1:9/none")
    app = build_service_app(
        settings,
        database_url=settings.db_url,
        migrations_dir=MEETINGS_MIGRATIONS,
        routers=[],
    )
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://down.test") as c:
            ready = await c.get("/readyz")
            alive = await c.get("/healthz")
    finally:
        await app.state.engine.dispose()
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith(PROBLEM_JSON)
    assert "nobody" not in ready.text  # no connection string in the answer
    assert "Traceback" not in ready.text


@pytest.mark.parametrize("freeze", [True, False])
async def test_a_started_service_moves_its_start_up_objects_out_of_the_collector(
    tmp_path: Path, freeze: bool
) -> None:
    settings = meetings_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}", gc_freeze_after_start=freeze
    )
    app = build_service_app(
        settings, database_url=settings.db_url, migrations_dir=MEETINGS_MIGRATIONS, routers=[]
    )
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # the rest of the suite's process collects as usual

    assert (frozen > 10_000) if freeze else (frozen == 0), frozen
