"""A fake Zoom for the bench: Zoom's documented answers, each after 20 ms, as a real server.

    uvicorn --factory bench.fake_zoom:create_app

The meetings service is pointed at it with `LINGKAR_ZOOM_OAUTH_URL` (this server) and
`LINGKAR_ZOOM_API_URL` (this server + `/v2`). It answers what the Zoom adapter calls, in the
shapes of /work/shared/design/outside-apis.md and tests/meetings/test_zoom.py: the
Server-to-Server OAuth token (account-credentials grant), create / read / update / delete a
meeting, list the host's meetings, and register a member. It keeps the meetings it made in
memory, so a read answers what the create made. It checks no credentials: it measures latency,
the adapter's tests check what is sent.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any

from fastapi import FastAPI, Request, Response

LATENCY_SECONDS = 0.020
FIRST_MEETING_ID = 81_000_000_000  # more than 32 bits, as Zoom's are


def create_app() -> FastAPI:
    app = FastAPI(title="fake zoom")
    meetings: dict[int, dict[str, Any]] = {}
    numbers = itertools.count(FIRST_MEETING_ID)

    @app.middleware("http")
    async def zoom_latency(request: Request, call_next: Any) -> Any:
        if request.url.path != "/":
            await asyncio.sleep(LATENCY_SECONDS)
        return await call_next(request)

    @app.get("/")
    async def ready() -> dict[str, str]:
        return {"status": "ok", "service": "fake zoom"}

    @app.post("/oauth/token")
    async def token() -> dict[str, Any]:
        return {
            "access_token": f"fake-zoom-token-{secrets.token_hex(8)}",
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": "meeting:write:admin meeting:read:admin",
        }

    @app.post("/v2/users/{user}/meetings", status_code=201)
    async def create_meeting(user: str, body: dict[str, Any]) -> dict[str, Any]:
        number = next(numbers)
        meetings[number] = _meeting(number, user, body)
        return meetings[number]

    @app.get("/v2/users/{user}/meetings")
    async def list_meetings(user: str) -> dict[str, Any]:
        listed = [m for m in meetings.values() if m["host_email"] == user or user == "me"]
        return {"page_size": 300, "total_records": len(listed), "meetings": listed}

    @app.get("/v2/meetings/{number}")
    async def read_meeting(number: int) -> Any:
        return meetings.get(number) or _not_found(number)

    @app.patch("/v2/meetings/{number}", status_code=204)
    async def update_meeting(number: int, body: dict[str, Any]) -> Response:
        if number not in meetings:
            return _not_found(number)
        meetings[number].update(
            {k: body[k] for k in ("topic", "start_time", "duration") if k in body}
        )
        return Response(status_code=204)

    @app.delete("/v2/meetings/{number}", status_code=204)
    async def delete_meeting(number: int) -> Response:
        if meetings.pop(number, None) is None:
            return _not_found(number)
        return Response(status_code=204)

    @app.post("/v2/meetings/{number}/registrants", status_code=201)
    async def register(number: int, body: dict[str, Any]) -> Any:
        if number not in meetings:
            return _not_found(number)
        registrant = secrets.token_hex(6)
        return {
            "id": number,
            "registrant_id": registrant,
            "topic": meetings[number]["topic"],
            "start_time": meetings[number]["start_time"],
            "join_url": f"https://us06web.zoom.us/w/{number}?tk={secrets.token_urlsafe(16)}",
            "participant_pin_code": 123456,
        }

    return app


def _meeting(number: int, user: str, body: dict[str, Any]) -> dict[str, Any]:
    encrypted = secrets.token_urlsafe(24)
    return {
        "uuid": secrets.token_urlsafe(16),
        "id": number,
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "host_email": user,
        "topic": body.get("topic", ""),
        "type": body.get("type", 2),
        "status": "waiting",
        "start_time": body.get("start_time"),
        "duration": body.get("duration", 60),
        "timezone": body.get("timezone", "UTC"),
        "agenda": body.get("agenda", ""),
        "start_url": f"https://us06web.zoom.us/s/{number}?zak={secrets.token_urlsafe(24)}",
        "join_url": f"https://us06web.zoom.us/j/{number}?pwd={encrypted}",
        "password": body.get("password"),
        "h323_password": "839201",
        "pstn_password": "839201",
        "encrypted_password": encrypted,
        "settings": body.get("settings", {}),
        "pre_schedule": False,
    }


def _not_found(number: int) -> Response:
    return Response(
        status_code=404,
        media_type="application/json",
        content=f'{{"code": 3001, "message": "Meeting does not exist: {number}."}}',
    )
