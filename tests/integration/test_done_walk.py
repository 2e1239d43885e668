"""product.md's "What done looks like", walked over the three services as real processes.

What later issues bring (Zoom, consent requests by WhatsApp, Telegram, the inbox, calendar
invites, reminders) is stood in for by Jitsi, consent recorded through the domain service, and
email, which is what the system delivers today.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from services.notifications.notifications.models import Delivery, Notification
from tests.integration.conftest import MailBox
from tests.processes import Services, base_env, free_port

pytestmark = pytest.mark.integration
UCA = {
    "understanding": {"rating": 4, "text": "Paham"},
    "comfort": {"rating": 5, "text": "Senang"},
    "action": {"rating": 4, "text": "Mencoba"},
}


@pytest.fixture
async def services(
    tmp_path: Path, smtp_server: tuple[MailBox, int], system_database: str | None
) -> AsyncIterator[Services]:
    ports = {"api": free_port(), "meetings": free_port(), "notifications": free_port()}
    env = base_env(tmp_path, ports, smtp_server[1], system_database)
    env["LINGKAR_MEETINGS_PUBLIC_URL"] = f"http://127.0.0.1:{ports['meetings']}"
    running = Services(tmp=tmp_path, env=env, ports=ports)
    for service in ("meetings", "notifications", "worker", "api"):
        running.start(service)
    try:
        yield running
    finally:
        running.stop_all()


def text_of(message: Any) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return str(part.get_payload(decode=True).decode())


def mail_to(box: MailBox, address: str) -> list[str]:
    return [text_of(m) for m in box.messages if address in m["To"]]


async def test_a_session_from_plan_to_follow_up(
    services: Services, smtp_server: tuple[MailBox, int]
) -> None:
    box = smtp_server[0]
    api = httpx.Client(base_url=services.url("api"), timeout=10)
    token = api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("dev-admin", "dev-secret"),
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, body: Any = None, auth: Any = None, expect: int = 200) -> Any:
        answer = api.request(method, path, json=body, headers=auth or admin)
        assert answer.status_code == expect, answer.text
        return answer.json()

    # The counselor's front end: people, a group, a session, the medium, the plan.
    counselor = call(
        "POST",
        "/v1/users",
        {"role": "counselor", "name": "Bu Rina", "email": "rina@sman2.sch.id"},
        expect=201,
    )
    students = [
        call(
            "POST",
            "/v1/users",
            {
                "role": "student",
                "name": name,
                "email": f"{name.lower()}@siswa.sch.id",
                "birth_date": "2000-05-05",
            },
            expect=201,
        )
        for name in ("Andi", "Budi", "Citra")
    ]
    group = call(
        "POST",
        "/v1/groups",
        {
            "name": "Karier XII",
            "counselor_id": counselor["id"],
            "field": "career",
            "member_ids": [s["id"] for s in students],
        },
        expect=201,
    )
    as_counselor = {
        "Authorization": "Bearer "
        + api.post(
            "/v1/oauth/token",
            auth=("dev-admin", "dev-secret"),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": counselor["id"],
                "subject_token_type": "urn:lingkar:params:oauth:token-type:user-id",
            },
        ).json()["access_token"]
    }
    start = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    session = call(
        "POST",
        "/v1/sessions",
        {
            "group_id": group["id"],
            "title": "Memilih jurusan",
            "scheduled_start": start.isoformat(),
            "duration_minutes": 60,
        },
        auth=as_counselor,
        expect=201,
    )
    sid = session["id"]
    call("PUT", f"/v1/sessions/{sid}/platform", {"provider": "jitsi"}, auth=as_counselor)
    call(
        "PUT",
        f"/v1/sessions/{sid}/plan",
        {
            "topic_kind": "assigned",
            "topic": "Memilih jurusan",
            "objectives": ["Mengenal minat"],
            "evaluation_plan": "Laiseg (UCA)",
        },
        auth=as_counselor,
    )
    call("POST", f"/v1/sessions/{sid}/attestation", {}, auth=as_counselor, expect=201)
    call("POST", f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, auth=as_counselor)

    # Students agree; the moment the minimum is cleared, the links go out.
    andi, budi, citra = students
    await services.grant_consent(sid, andi["id"])
    assert call("GET", f"/v1/sessions/{sid}")["meeting"] is None
    await services.grant_consent(sid, budi["id"])
    await asyncio.to_thread(box.wait_for, 3, 30.0)
    [host_mail] = mail_to(box, counselor["email"])
    meeting = call("GET", f"/v1/sessions/{sid}/meeting", auth=as_counselor)
    assert meeting["host_url"] in host_mail and "Andi" in host_mail and "Budi" in host_mail
    links = {}
    for student in (andi, budi):
        [mail] = mail_to(box, student["email"])
        links[student["id"]] = re.search(r"http://\S+/j/\S+", mail).group(0)  # type: ignore[union-attr]
        assert meeting["host_url"] not in mail, "a member never sees the host link"

    # A student who agrees later gets their own link then.
    await services.grant_consent(sid, citra["id"])
    await asyncio.to_thread(box.wait_for, 4, 30.0)
    assert len(mail_to(box, citra["email"])) == 1

    # At the time, a member's link lets them in, through the gate, to the room.
    opened = httpx.get(links[andi["id"]], follow_redirects=False, timeout=10)
    assert opened.status_code == 302
    assert opened.headers["location"].startswith("https://meet.jit.si/Lingkar")
    as_andi = {
        "Authorization": "Bearer "
        + api.post(
            "/v1/oauth/token",
            auth=("dev-admin", "dev-secret"),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": andi["id"],
                "subject_token_type": "urn:lingkar:params:oauth:token-type:user-id",
            },
        ).json()["access_token"]
    }
    assert call("GET", f"/v1/sessions/{sid}/meeting", auth=as_andi)["join_url"] == links[andi["id"]]

    # Andi withdraws: his link stops working at once; the counselor is told.
    call(
        "POST",
        f"/v1/sessions/{sid}/consents/{andi['id']}/withdraw",
        {"reason": "Tidak jadi"},
        auth=as_andi,
    )
    refused = httpx.get(links[andi["id"]], follow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert httpx.get(links[budi["id"]], follow_redirects=False, timeout=10).status_code == 302
    await asyncio.to_thread(box.wait_for, 5, 30.0)
    assert any("Andi" in m for m in mail_to(box, counselor["email"])[1:])

    # The counselor walks the stages and keeps the record.
    call("POST", f"/v1/sessions/{sid}/transitions", {"to": "implementation"}, auth=as_counselor)
    call(
        "POST",
        f"/v1/sessions/{sid}/observations",
        {
            "student_id": budi["id"],
            "participation": 4,
            "respects_others": 5,
            "seriousness": 4,
            "notes": "Berani menyampaikan pendapat",
        },
        auth=as_counselor,
        expect=201,
    )
    for stage in ("observation", "termination"):
        call("POST", f"/v1/sessions/{sid}/transitions", {"to": stage}, auth=as_counselor)
    call(
        "POST",
        f"/v1/sessions/{sid}/evaluations",
        {"student_id": budi["id"], **UCA, "outcome": "continue_online"},
        auth=as_counselor,
        expect=201,
    )
    done = call("POST", f"/v1/sessions/{sid}/transitions", {"to": "completed"}, auth=as_counselor)
    assert done["stage"] == "completed"

    # A week and a month later, the follow-up reminders: scheduled now, not sent now.
    async def follow_ups() -> list[Any]:
        return await services.query(
            "notifications",
            select(Delivery.next_attempt_at)
            .join(Notification, col(Notification.id) == Delivery.notification_id)
            .where(
                Notification.session_id == uuid.UUID(sid), Notification.event == "follow_up_due"
            ),
        )

    for _ in range(100):
        due = sorted(await follow_ups())
        if len(due) == 2:
            break
        await asyncio.sleep(0.1)
    now = datetime.now(UTC)
    assert [round((d.replace(tzinfo=UTC) - now) / timedelta(days=1)) for d in due] == [7, 30]
    await asyncio.sleep(1)
    assert not any("tindak lanjut" in m for m in mail_to(box, counselor["email"]))
