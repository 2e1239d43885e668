"""Consent granted -> the member's gated link exists, with 50 consents in flight.

Each of 50 sessions has its own group of three adult students, its plan, the counselor's
attestation, Zoom as its platform (the school's Server-to-Server app, answered by the fake
Zoom of bench/fake_zoom.py in 20 ms) and two members already consented, and is in preparation
with its Zoom meeting made. Then the third member of every session grants consent through the
public consent link at once (GET the text as JSON, POST the decision); the clock runs from the
POST until the member's join link is stored: api -> outbox relay -> meetings -> api. The link is
the member's gated link (/j/{token}); Zoom registers the member when they click it, so admitting
them makes no Zoom call: the fake's 20 ms is paid when the meetings are made, before the clock.
The clock starts once the setup's own calls have left the outbox, so the 50 grants are measured,
not the backlog of notifications the setup made.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.stack import SERVICES, Stack, cpu_seconds, postgres_cpu_seconds

ZOOM_APP = {
    "account_id": "bench-account",
    "client_id": "bench-client",
    "client_secret": "bench-client-secret",
    "host_user": "me",
}
PLAN = {
    "topic_kind": "assigned",
    "topic": "Memilih jurusan kuliah",
    "objectives": ["Mengenali minat dan bakat"],
    "evaluation_plan": "Laiseg (UCA)",
}


@dataclass
class Pending:
    session_id: str
    student_id: str
    consent_url: str


async def _ok(answer: httpx.Response, expect: int = 201) -> Any:
    if answer.status_code != expect:
        raise SystemExit(f"consent setup: {answer.request.url.path} -> {answer.status_code}")
    return answer.json()


async def _grant(
    client: httpx.AsyncClient, url: str, posting: Callable[[], None] = lambda: None
) -> int | None:
    """Open the consent link as JSON and grant it (`posting` is called just before the POST);
    the failing status, or None."""
    asked = await client.get(url, headers={"Accept": "application/json"})
    if asked.status_code != 200:
        return asked.status_code
    items = [item["code"] for item in asked.json()["text"]["items"]]
    body = {"decision": "grant", "acknowledged_items": items, "signer_name": "Siswa"}
    posting()
    granted = await client.post(url, json=body)
    return None if granted.status_code == 201 else granted.status_code


async def _one_session(api: httpx.AsyncClient, counselor_id: str, body: dict[str, Any]) -> Pending:
    students = [
        await _ok(
            await api.post(
                "/v1/users",
                json={"role": "student", "name": f"Siswa {i}", "birth_date": "2000-01-01"},
            )
        )
        for i in range(3)
    ]
    group = await _ok(
        await api.post(
            "/v1/groups",
            json={
                "name": "Kelompok",
                "counselor_id": counselor_id,
                "member_ids": [s["id"] for s in students],
                "field": "career",
            },
        )
    )
    session = await _ok(await api.post("/v1/sessions", json={**body, "group_id": group["id"]}))
    sid = session["id"]
    await _ok(await api.put(f"/v1/sessions/{sid}/platform", json={"provider": "zoom"}), 200)
    await _ok(await api.put(f"/v1/sessions/{sid}/plan", json=PLAN), 200)
    await _ok(await api.post(f"/v1/sessions/{sid}/attestation", json={}))
    asked = await _ok(await api.post(f"/v1/sessions/{sid}/consent-requests", json={}))
    urls = {r["student_id"]: r["url"] for r in asked["requests"]}
    for student in students[:2]:
        if failed := await _grant(api, urls[student["id"]]):
            raise SystemExit(f"consent setup: granting answered {failed}")
    await _ok(await api.post(f"/v1/sessions/{sid}/transitions", json={"to": "preparation"}), 200)
    last = students[2]["id"]
    return Pending(session_id=sid, student_id=last, consent_url=urls[last])


async def _links(conn: asyncpg.Connection, pending: list[Pending]) -> set[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT session_id::text, student_id::text FROM api.session_participant "
        "WHERE session_id = ANY($1::uuid[]) AND join_url IS NOT NULL",
        [p.session_id for p in pending],
    )
    return {(r[0], r[1]) for r in rows}


async def _outbox_due(conn: asyncpg.Connection) -> int:
    """Messages of the api's outbox waiting to be sent now."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM api.outbox_message "
            "WHERE status = 'pending' AND next_attempt_at <= now()"
        )
    )


async def _until(
    count: Callable[[], Awaitable[int | set[Any]]], target: int, what: str, seconds: float = 300
) -> None:
    """Wait until `count` reaches `target` (a set: its size); the setup failed if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = await count()
        if (len(got) if isinstance(got, set) else got) == target:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"consent setup: waited {seconds:.0f}s for {what}")


async def _run(
    stack: Stack, token: str, counselor_id: str, body: dict[str, Any], n: int
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.url("api"), headers=auth, timeout=60) as api:
        await _ok(await api.put("/v1/school/providers/zoom", json=ZOOM_APP), 200)
        pending = [await _one_session(api, counselor_id, body) for _ in range(n)]
    conn = await asyncpg.connect(stack.database_url, timeout=10)
    try:
        await _until(lambda: _links(conn, pending), 2 * n, "the meetings and first links")
        await _until(lambda: _outbox_due(conn), 0, "the setup's calls to leave the outbox")
        sent: dict[tuple[str, str], float] = {}
        answered: dict[tuple[str, str], float] = {}
        seen: dict[tuple[str, str], float] = {}
        failures: list[int] = []

        async def grant(client: httpx.AsyncClient, p: Pending) -> None:
            def posting() -> None:
                sent[(p.session_id, p.student_id)] = time.monotonic()

            if failed := await _grant(client, p.consent_url, posting):
                failures.append(failed)
            answered[(p.session_id, p.student_id)] = time.monotonic()

        pids = {name: stack.running[name].pid for name in SERVICES}

        def cpu_now() -> dict[str, float]:
            used = {k: cpu_seconds(pid) for k, pid in pids.items()}
            return {**used, "db": postgres_cpu_seconds()}

        cpu_before = cpu_now()
        async with httpx.AsyncClient(base_url=stack.url("api"), timeout=60) as public:
            granting = asyncio.gather(*(grant(public, p) for p in pending))
            deadline = time.monotonic() + 60
            while len(seen) < n and time.monotonic() < deadline:
                now = time.monotonic()
                for key in await _links(conn, pending):
                    if key in sent and key not in seen:
                        seen[key] = now
                await asyncio.sleep(0.005)
            await granting
        # The CPU each part spent from the first POST to the last link (PostgreSQL's includes
        # this loop's own polls for the links).
        cpu = {k: spent - cpu_before[k] for k, spent in cpu_now().items()}
        # And until what the grants set going has left the api's outbox (the members' link
        # messages and reminders, after the links): the whole of what a grant costs.
        await _until(lambda: _outbox_due(conn), 0, "the grants' calls to leave the outbox")
        whole = {k: spent - cpu_before[k] for k, spent in cpu_now().items()}
    finally:
        await conn.close()
    waits = sorted((seen[k] - sent[k]) * 1000 for k in seen)
    # The part after the grant's answer: the relay's hop, whatever the POST itself cost.
    after = sorted(max(0.0, seen[k] - answered[k]) * 1000 for k in seen if k in answered)
    posts = sorted((answered[k] - sent[k]) * 1000 for k in answered if k in sent)
    return {
        "linked": len(waits),
        "asked": n,
        "waits_ms": waits,
        "after_answer_ms": after,
        "post_ms": posts,
        "failed_statuses": failures,
        "cpu_ms_per_grant": {k: round(1000 * spent / n, 2) for k, spent in cpu.items()},
        "cpu_ms_per_grant_whole": {k: round(1000 * spent / n, 2) for k, spent in whole.items()},
    }


def run(
    stack: Stack, token: str, counselor_id: str, body: dict[str, Any], n: int = 50
) -> dict[str, Any]:
    """Set up `n` sessions, grant their last consents at once; the waits until each link."""
    return asyncio.run(_run(stack, token, counselor_id, body, n))


def percentile(sorted_ms: list[float], share: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(share * len(sorted_ms)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
