"""What the scenarios read: a school with a counselor, a group, sessions; and bulk rows by SQL.

The small set goes through the public API as a school would make it. The large one (10,000 or
1,000,000 sessions) goes straight into the api's tables with `generate_series`, in the same
school and group, members included, so a read of one of them costs what a real one costs.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.stack import ROOT, Stack

MEMBERS = 6


@dataclass
class School:
    school_id: str
    client_id: str
    client_secret: str
    token: str
    group_id: str
    counselor_id: str
    session_ids: list[str]

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {self.token}"),)


def session_body(group_id: str) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    return {
        "group_id": group_id,
        "title": "Mengelola stres menjelang ujian",
        "scheduled_start": start.isoformat(),
        "duration_minutes": 60,
    }


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(path, json=body)
    if answer.status_code != 201:
        raise SystemExit(f"seeding failed: POST {path} answered {answer.status_code}")
    return dict(answer.json())


def school(stack: Stack, *, sessions: int) -> School:
    """A school made with the operator's CLI, then people, a group and sessions by the API."""
    made = subprocess.run(
        [stack.python, "-m", "services.api.cli", "create-school", "--name", "SMA Bench"],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    credentials = json.loads(made.stdout)
    with httpx.Client(base_url=stack.url("api"), timeout=30) as api:
        answer = api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
        )
        token = answer.json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        counselor = _post(
            api,
            "/v1/users",
            {"role": "counselor", "name": "Bu Sari", "email": "sari@bench.sch.id"},
        )
        students = [
            _post(api, "/v1/users", {"role": "student", "name": f"Siswa {i}"})
            for i in range(MEMBERS)
        ]
        group = _post(
            api,
            "/v1/groups",
            {
                "name": "Kelompok Bench",
                "counselor_id": counselor["id"],
                "member_ids": [s["id"] for s in students],
                "field": "career",
            },
        )
        ids = [_post(api, "/v1/sessions", session_body(group["id"]))["id"] for _ in range(sessions)]
    return School(
        school_id=credentials["school_id"],
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        token=token,
        group_id=group["id"],
        counselor_id=counselor["id"],
        session_ids=ids,
    )


_SESSIONS_SQL = """
WITH made AS (
  INSERT INTO api.guidance_session
    (id, school_id, group_id, counselor_id, title, stage, scheduled_start, duration_minutes,
     timezone, created_at, updated_at)
  SELECT gen_random_uuid(), g.school_id, g.id, g.counselor_id, 'Sesi ' || n, 'pre_preparation',
         now() + (n || ' minutes')::interval, 60, 'Asia/Jakarta', now(), now()
  FROM api.guidance_group g, generate_series($2::int, $3::int) AS n
  WHERE g.id = $1::uuid
  RETURNING id, group_id, school_id
)
INSERT INTO api.session_participant (session_id, student_id, school_id, admissions)
SELECT made.id, m.student_id, made.school_id, 0
FROM made JOIN api.group_member m ON m.group_id = made.group_id
"""


async def _grow(url: str, group_id: str, total: int, chunk: int) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        have = int(await conn.fetchval("SELECT count(*) FROM api.guidance_session"))
        for first in range(have + 1, total + 1, chunk):
            last = min(first + chunk - 1, total)
            await conn.execute(_SESSIONS_SQL, group_id, first, last)
            print(f"    {last:,} sessions stored", flush=True)
        await conn.execute("ANALYZE api.guidance_session; ANALYZE api.session_participant")
        return have
    finally:
        await conn.close()


def grow(stack: Stack, kit: School, *, total: int) -> float:
    """Add sessions in the school until `total` are stored; the seconds it took."""
    started = time.monotonic()
    asyncio.run(_grow(stack.database_url, kit.group_id, total, chunk=100_000))
    return time.monotonic() - started


async def _sample(url: str, school_id: str, count: int) -> list[str]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT id FROM api.guidance_session TABLESAMPLE SYSTEM (10) "
            "WHERE school_id = $1::uuid LIMIT $2",
            school_id,
            count,
        )
        return [str(r["id"]) for r in rows]
    finally:
        await conn.close()


def sample_ids(stack: Stack, kit: School, count: int = 2000) -> list[str]:
    """Session ids spread over the table, so reads do not all hit the same few pages."""
    return asyncio.run(_sample(stack.database_url, kit.school_id, count))
