"""Small builders for test data, through the public API wherever the API offers the way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.schools import service as school_service
from services.api.schools.schemas import SchoolCreate

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
USER_ID_TYPE = "urn:lingkar:params:oauth:token-type:user-id"


async def token(api: httpx.AsyncClient, client_id: str, secret: str, **form: str) -> str:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@dataclass
class SchoolKit:
    """A school, its admin credentials, and helpers that act as its admin."""

    api: httpx.AsyncClient
    school_id: uuid.UUID
    client_id: str
    client_secret: str
    token: str
    created: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, path: str, body: Any, *, expect: int = 201, **kw: Any) -> Any:
        answer = await self.api.post(path, json=body, headers=self.auth, **kw)
        assert answer.status_code == expect, answer.text
        return answer.json()

    async def get(self, path: str, *, expect: int = 200, **kw: Any) -> Any:
        answer = await self.api.get(path, headers=self.auth, **kw)
        assert answer.status_code == expect, answer.text
        return answer.json()

    async def user(self, role: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"role": role, "name": name or f"{role.title()} {uuid.uuid4().hex[:6]}", **extra}
        if role == "counselor" and "email" not in extra:
            body["email"] = f"counselor-{uuid.uuid4().hex[:8]}@sekolah.example"
        return dict(await self.post("/v1/users", body))

    async def group(self, members: int = 3, **extra: Any) -> dict[str, Any]:
        counselor = extra.pop("counselor", None) or await self.user("counselor")
        students = [await self.user("student") for _ in range(members)]
        body = {
            "name": "Kelompok Karier",
            "counselor_id": counselor["id"],
            "member_ids": [s["id"] for s in students],
            "field": "career",
            **extra,
        }
        group = dict(await self.post("/v1/groups", body))
        group["counselor"] = counselor
        return group

    async def session(self, group: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        group = group or await self.group()
        start = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
        body = {
            "group_id": group["id"],
            "title": "Mengelola stres menjelang ujian",
            "scheduled_start": start.isoformat(),
            "duration_minutes": 60,
            **extra,
        }
        session = dict(await self.post("/v1/sessions", body))
        session["group"] = group
        return session

    async def token_for(self, user_id: str) -> str:
        """A token acting as one of this school's users (RFC 8693 token exchange)."""
        answer = await self.api.post(
            "/v1/oauth/token",
            auth=(self.client_id, self.client_secret),
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": user_id,
                "subject_token_type": USER_ID_TYPE,
            },
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


async def new_school(app: FastAPI, api: httpx.AsyncClient, name: str = "SMA Lingkar") -> SchoolKit:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        school, credentials = await school_service.create(db=db, data=SchoolCreate(name=name))
        await db.commit()
    access = await token(api, credentials.client_id, credentials.client_secret)
    return SchoolKit(
        api=api,
        school_id=school.id,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        token=access,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def grant_consent(
    app: FastAPI,
    *,
    session: dict[str, Any],
    student_id: str,
    signer: str = "student",
    signer_id: str | None = None,
    platform: str = "jitsi",
    decision: str = "granted",
    text_version: str | None = None,
    fallback_platform: str | None = None,
) -> uuid.UUID:
    """Record a consent decision through the domain service (the consent API comes later)."""
    from services.api.consent import service as consent_service
    from services.api.consent.models import Consent
    from services.api.consent.texts import CURRENT_TEXT_VERSION, GUARDIAN_ITEMS, STUDENT_ITEMS
    from services.api.sessions import preparation
    from services.api.sessions.models import GuidanceSession

    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        row = await db.get(GuidanceSession, uuid.UUID(session["id"]))
        assert row is not None
        consent = await consent_service.record(
            db=db,
            consent=Consent(
                school_id=row.school_id,
                group_id=row.group_id,
                session_id=row.id,
                student_id=uuid.UUID(student_id),
                signer=signer,
                signer_id=uuid.UUID(signer_id or student_id),
                signer_name="Penanda tangan",
                relationship="mother" if signer == "guardian" else None,
                platform=platform,
                fallback_platform=fallback_platform,
                text_version=text_version or CURRENT_TEXT_VERSION,
                text_hash="0" * 64,
                locale="id",
                items=list(GUARDIAN_ITEMS if signer == "guardian" else STUDENT_ITEMS),
                decision=decision,
                channel="test",
            ),
        )
        await preparation.consent_recorded(db=db, consent=consent)
        await db.commit()
        return consent.id


async def eventually(check: Any, seconds: float = 8.0) -> Any:
    """Poll an async check until it returns something truthy (background relays, workers)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {seconds}s (last: {value!r})")
        await asyncio.sleep(0.05)


async def notifications_about(app: FastAPI, session_id: str) -> list[Any]:
    """What the notifications service holds about a session: (event, data, recipients)."""
    from sqlmodel import select

    from services.notifications.notifications.models import Delivery, Notification

    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(Notification).where(Notification.session_id == uuid.UUID(session_id))
        )
        found = []
        for n in rows.all():
            people = await db.exec(
                select(Delivery.person_id).where(Delivery.notification_id == n.id)
            )
            found.append((n.event, n.data, {str(p) for p in people.all()}))
        return found


COMPLETE_PLAN = {
    "topic_kind": "assigned",
    "topic": "Memilih jurusan kuliah",
    "objectives": ["Mengenali minat dan bakat"],
    "evaluation_plan": "Laiseg (UCA)",
}


async def follow_host_link(meetings: httpx.AsyncClient, url: str) -> str:
    """Click the counselor's host link (Lingkar's /h/ gate); where it sends them."""
    from urllib.parse import urlsplit

    assert "/h/" in url, f"not a host gate link: {url}"
    answer = await meetings.get(urlsplit(url).path)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])
