"""The foundation's proof: three services as real processes, a real SMTP server, real HTTP."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.conftest import MailBox, RunningSystem, free_port

pytestmark = pytest.mark.integration


def _text_of(message) -> str:
    parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return str(parts[0].get_payload(decode=True).decode())


async def test_the_counselor_receives_the_jitsi_link_by_email(
    system: RunningSystem, smtp_server: tuple[MailBox, int]
) -> None:
    request_id = f"slice-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=system.url("api"), timeout=10) as api:
        token = api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("dev-admin", "dev-secret"),
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        def post(path: str, body: dict[str, object], expect: int = 201) -> dict[str, object]:
            answer = api.post(path, json=body, headers={**headers, "X-Request-ID": request_id})
            assert answer.status_code == expect, answer.text
            return dict(answer.json())

        counselor = post(
            "/v1/users",
            {
                "role": "counselor",
                "name": "Bu Sari Wulandari",
                "email": "sari@sman1.sch.id",
                "timezone": "Asia/Jakarta",
            },
        )
        students = [
            post("/v1/users", {"role": "student", "name": n, "birth_date": "2000-02-02"})
            for n in ("Andi", "Budi")
        ]
        group = post(
            "/v1/groups",
            {
                "name": "Karier XI-2",
                "counselor_id": counselor["id"],
                "member_ids": [s["id"] for s in students],
                "field": "career",
            },
        )
        start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC) + timedelta(days=365)
        session = post(
            "/v1/sessions",
            {
                "group_id": group["id"],
                "title": "Memilih jurusan",
                "scheduled_start": start.isoformat(),
                "duration_minutes": 60,
            },
        )
        chosen = api.put(
            f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=headers
        )
        assert chosen.status_code == 200, chosen.text
        planned = api.put(
            f"/v1/sessions/{session['id']}/plan",
            headers=headers,
            json={
                "topic_kind": "assigned",
                "topic": "Memilih jurusan",
                "objectives": ["Mengenal minat"],
                "evaluation_plan": "Laiseg (UCA)",
            },
        )
        assert planned.status_code == 200, planned.text
        post(f"/v1/sessions/{session['id']}/attestation", {})
        # Everything the gate asks for, while still choosing the platform ...
        for student in students:
            await system.grant_consent(str(session["id"]), str(student["id"]))
        # ... so that entering preparation is what provisions the meeting, in this request.
        moved = post(f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, 200)
        assert moved["stage"] == "preparation"

        box, _ = smtp_server
        [mail] = box.wait_for(1)
        assert mail["To"].endswith("<sari@sman1.sch.id>")
        assert "Memilih jurusan" in mail["Subject"]
        body = _text_of(mail)
        assert "/h/" in body
        assert "09.00 WIB" in body

        meeting = api.get(f"/v1/sessions/{session['id']}/meeting", headers=headers).json()
        assert meeting["host_url"] in body
        # The link in the email is Lingkar's host gate; behind it, the Jitsi room.
        room = httpx.get(meeting["host_url"], follow_redirects=False, timeout=10)
        assert room.status_code == 302
        assert room.headers["location"].startswith("https://meet.jit.si/Lingkar")

    time.sleep(0.5)  # let the last log lines land
    logged = [json.loads(line) for line in system.output().splitlines() if line.startswith("{")]
    services_seen = {entry["service"] for entry in logged if entry.get("request_id") == request_id}
    assert {"api", "meetings", "notifications"} <= services_seen, services_seen
    assert len(box.messages) == 1, "one email, not two"


def test_ctrl_c_stops_every_process(system: RunningSystem) -> None:
    assert system.stop() == 0
    for port in system.ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert free_port() > 0
