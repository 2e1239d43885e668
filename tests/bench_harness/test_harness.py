"""The bench's own parts, fast: the ceiling app, the wrk script and summary, the report.

No timing is asserted here; `make bench` measures, this only checks the harness works.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from bench import report, run, stack, wrk
from bench.ceiling import BODY, create_app
from bench.floor import create_app as create_floor
from bench.report import Row
from services.api.main import MIGRATIONS as API_MIGRATIONS
from shared.db import create_engine, run_migrations
from tests.conftest import POSTGRES_URL


async def test_the_ceiling_answers_its_constant_body_to_a_get_and_a_post() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        got = await client.get("/")
        posted = await client.post("/", json={"title": "x"})
    assert got.status_code == 200 and got.json() == BODY
    assert posted.status_code == 200 and posted.json() == BODY


def test_the_wrk_script_sends_the_token_the_body_and_every_path_in_turn() -> None:
    load = wrk.Load(
        paths=("/v1/sessions/a", "/v1/sessions/b"),
        method="POST",
        headers=(("Authorization", 'Bearer t"k'),),
        body='{"title": "Sesi"}',
    )
    lua = wrk.script(load)
    assert 'local paths = {"/v1/sessions/a", "/v1/sessions/b"}' in lua
    assert 'wrk.headers["Authorization"] = "Bearer t\\"k"' in lua
    assert 'local body = "{\\"title\\": \\"Sesi\\"}"' in lua
    assert "latency:percentile(99)" in lua


def test_the_wrk_summary_becomes_throughput_and_percentiles_in_milliseconds() -> None:
    line = wrk._MARK + json.dumps(
        {
            "requests": 5000,
            "duration_us": 2_000_000,
            "non_2xx": 3,
            "socket_errors": 1,
            "p50_us": 1500,
            "p95_us": 4000,
            "p99_us": 9000,
            "max_us": 20000,
            "mean_us": 1800.0,
        }
    )
    got = wrk.parse("Running 2s test\n" + line + "\n")
    assert got.rps == 2500
    assert (got.p50_ms, got.p95_ms, got.p99_ms, got.errors) == (1.5, 4.0, 9.0, 4)


def test_a_wrk_run_without_its_summary_is_an_error_not_a_zero() -> None:
    with pytest.raises(RuntimeError, match="no summary"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_bench_refuses_to_load_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        wrk.run("http://example.org/", wrk.Load(paths=("/",)), connections=1, seconds=1)


def test_the_table_puts_each_figure_beside_the_ceiling_with_the_ratio_and_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        Row(scenario="ceiling GET", rps=4000.0, p50_ms=2.0, p95_ms=3.0, p99_ms=4.0),
        Row(
            scenario="GET /v1/sessions/{id}",
            rps=1000.0,
            ceiling_rps=4000.0,
            p50_ms=10.0,
            p95_ms=15.0,
            p99_ms=30.0,
            cpu_ms=1.284,
            db_cpu_ms=0.4,
            goal=">=40%",
            met=False,
            note="p99 over 20 ms",
        ),
    ]
    text = report.table(rows)
    line = next(x for x in text.splitlines() if x.startswith("GET /v1/sessions/{id}"))
    assert "1,000.0" in line and "4,000.0" in line and "25.0%" in line and "NOT MET" in line
    assert "1.28 + 0.40 db" in line
    assert "GET /v1/sessions/{id}: p99 over 20 ms" in text

    monkeypatch.setattr(report, "RESULTS", tmp_path)
    written = report.write(rows, settings={"seconds": 1}, machine_info={"nproc": 2})
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert written.parent == tmp_path
    assert saved["rows"][1]["ratio"] == 0.25 and saved["machine"] == {"nproc": 2}

    # A --million run keeps its own file: the full run's latest.json stays as it was.
    report.write(rows[:1], settings={"big": 1_000_000}, machine_info={}, latest="million.json")
    assert json.loads((tmp_path / "latest.json").read_text()) == saved
    assert json.loads((tmp_path / "million.json").read_text())["settings"] == {"big": 1_000_000}


def test_the_stolen_share_of_the_cores_time_is_read_from_proc_stat() -> None:
    """Steal is the eighth figure of /proc/stat's first line; the share is of every tick."""
    before = report.cpu_ticks("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3\n")
    after = report.cpu_ticks("cpu  180 0 70 1500 10 0 5 135 9 0\ncpu0 1 2 3\n")
    assert before == (35, 1000) and after == (135, 1900)
    assert report.steal_percent(before, after) == pytest.approx(11.1)  # 100 of 900 ticks
    assert report.steal_percent(after, after) == 0.0
    stolen, total = report.cpu_ticks()  # this machine's own
    assert total > 0 and 0 <= stolen <= total


def test_cpu_is_read_from_the_process_table_and_grows_with_work() -> None:
    """The bench's CPU per request is told by /proc; a busy loop must show in it."""
    before = stack.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert stack.cpu_seconds(os.getpid()) - before >= 0.2
    assert stack.postgres_cpu_seconds() > 0  # the server of make test has done some work


def test_the_cpu_per_request_is_the_cpu_spent_over_the_measured_run_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warm-up's CPU is not counted, and each process's is divided by the requests of the
    measured run: 0.5 s of the api's and 0.25 s of PostgreSQL's over 250 requests."""
    runs = iter(
        [
            wrk.Measured(requests=900, seconds=1, errors=0, p50_ms=1, p95_ms=1, p99_ms=1, max_ms=1),
            wrk.Measured(requests=250, seconds=2, errors=0, p50_ms=2, p95_ms=3, p99_ms=4, max_ms=5),
        ]
    )
    monkeypatch.setattr(wrk, "run", lambda *args, **kwargs: next(runs))
    # Read once before and once after the measured run (the warm-up is before both).
    service = iter([10.0, 10.5])
    database = iter([3.0, 3.25])
    monkeypatch.setattr(run, "cpu_seconds", lambda pid: next(service))
    monkeypatch.setattr(run, "postgres_cpu_seconds", lambda: next(database))
    loaded = stack.Stack(database="unused", logs=Path("."), smtp_port=0)
    loaded.ports["api"] = 1
    loaded.running["api"] = cast(subprocess.Popen[bytes], SimpleNamespace(pid=os.getpid()))
    plan = run.Plan(seconds=2, connections=32, scenarios=("read",), emails=0, big=0, keep=False)

    got = run.measure(loaded, "api", wrk.Load(paths=("/",)), plan)

    assert got.requests == 250 and got.p99_ms == 4
    assert got.cpu_ms == pytest.approx(2.0)  # 0.5 s / 250 requests
    assert got.db_cpu_ms == pytest.approx(1.0)  # 0.25 s / 250 requests


async def test_the_database_floor_reads_the_migrated_sessions_and_their_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The floor reads the api's real tables (migrated here), so a renamed column fails here,
    not in the middle of a `make bench`."""
    name = f"lingkar_floor_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url, schema="api")
        await run_migrations(engine, migrations_dir=API_MIGRATIONS, schema="api")
        await engine.dispose()
        first, second, student = await _two_sessions_one_member(url)
        monkeypatch.setenv("LINGKAR_DATABASE_URL", url)
        fetched: list[str] = []
        fetchrow = asyncpg.connection.Connection.fetchrow

        async def counted(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
            fetched.append(query)
            return await fetchrow(self, query, *args, **kw)

        monkeypatch.setattr(asyncpg.connection.Connection, "fetchrow", counted)
        app = create_floor()
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
        ):
            reads_before = len(fetched)
            read = await client.get(f"/sessions/{second}", params={"statements": 3})
            reads = len(fetched) - reads_before
            listed = await client.get("/sessions", params={"limit": 50})
            none = await client.get(f"/sessions/{second}", params={"statements": 0})
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert read.status_code == 200 and read.json()["id"] == second
    assert reads == 3  # the statements it was asked for, each a round trip of its own
    assert read.json()["title"] == "Sesi 2"
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [first, second]  # the list's order: by start time
    assert [i["members"] for i in items] == [[student], []]
    assert none.status_code == 422  # at least one read, or there is no row to answer


async def _two_sessions_one_member(url: str) -> tuple[str, str, str]:
    """Two sessions a day apart, the first with one member; the foreign keys are not the
    floor's business, so they are not enforced for these rows."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("SET session_replication_role = replica")
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for n, session_id in enumerate(ids[:2], start=1):
            await conn.execute(
                "INSERT INTO api.guidance_session (id, school_id, group_id, counselor_id, title, "
                "stage, scheduled_start, duration_minutes, timezone, schedule_sequence, "
                "created_at, updated_at) VALUES ($1::uuid, $2::uuid, $2::uuid, $2::uuid, $3, "
                "'pre_preparation', now() + make_interval(days => $4), 60, 'Asia/Jakarta', 0, "
                "now(), now())",
                session_id,
                ids[2],
                f"Sesi {n}",
                n,
            )
        await conn.execute(
            "INSERT INTO api.session_participant (session_id, student_id, school_id, admissions) "
            "VALUES ($1::uuid, $2::uuid, $2::uuid, 0)",
            ids[0],
            ids[2],
        )
    finally:
        await conn.close()
    return ids[0], ids[1], ids[2]
