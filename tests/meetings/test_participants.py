"""Members' own links: admitted with the meeting or later, revoked, moved and cancelled with it.

The links are clicked here only where the meetings service decides alone (revoked, cancelled,
outside the window); clicks that reach the api for the member's clearance are in
test_join_gate.py.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.participants.links import JoinLinks
from services.meetings.participants.models import Participant
from shared.contracts.meetings import (
    Clearance,
    ClearedParticipant,
    ConsentEvidence,
    Host,
    ProvisionRequest,
)
from shared.gate import Signer
from shared.stages import Provider

TEXT_VERSION = "consent-text-3"
JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2030, 3, 4, 9, 0, tzinfo=JAKARTA)  # a Monday, far enough ahead to be "early"

Post = Callable[..., Awaitable[httpx.Response]]


def cleared(name: str = "Siswa Contoh", platform: Provider = Provider.jitsi) -> ClearedParticipant:
    evidence = ConsentEvidence(
        consent_id=uuid.uuid4(),
        signer=Signer.student,
        platform=platform,
        text_version=TEXT_VERSION,
        granted=True,
    )
    return ClearedParticipant(
        person_id=uuid.uuid4(), name=name, needs_guardian=False, consents=[evidence]
    )


def clearance(
    session_id: uuid.UUID, *people: ClearedParticipant, platform: Provider = Provider.jitsi
) -> dict[str, Any]:
    built = Clearance(
        session_id=session_id, platform=platform, text_version=TEXT_VERSION, participants=people
    )
    body: dict[str, Any] = built.model_dump(mode="json")
    return body


def provision_body(session_id: uuid.UUID, *people: ClearedParticipant) -> dict[str, Any]:
    request = ProvisionRequest(
        school_id=uuid.uuid4(),
        session_id=session_id,
        provider=Provider.jitsi,
        title="Mengelola stres menjelang ujian",
        scheduled_start=START,
        duration_minutes=60,
        timezone="Asia/Jakarta",
        host=Host(person_id=uuid.uuid4(), name="Bu Rina"),
        clearance=Clearance.model_validate(clearance(session_id, *people)),
    )
    body: dict[str, Any] = request.model_dump(mode="json")
    return body


@pytest.fixture
def internal(meetings: httpx.AsyncClient, service_token: Callable[[str], str]) -> Post:
    """POST to an internal route as the api service; `key=None` sends no Idempotency-Key."""

    async def post(path: str, body: dict[str, Any], key: str | None = "fresh") -> httpx.Response:
        headers = {"Authorization": f"Bearer {service_token('meetings')}"}
        if key is not None:
            headers["Idempotency-Key"] = f"test:{uuid.uuid4()}" if key == "fresh" else key
        return await meetings.post(path, json=body, headers=headers)

    return post


async def provisioned(
    internal: Post, *people: ClearedParticipant, session_id: uuid.UUID | None = None
) -> dict[str, Any]:
    key = f"provision:{uuid.uuid4()}"
    answer = await internal(
        "/internal/v1/meetings", provision_body(session_id or uuid.uuid4(), *people), key
    )
    assert answer.status_code == 201, answer.text
    meeting: dict[str, Any] = answer.json()
    meeting["provision_key"] = key
    return meeting


def link_of(answer: dict[str, Any], person: ClearedParticipant) -> str:
    return next(
        str(link["join_url"])
        for link in answer["join_links"]
        if link["person_id"] == str(person.person_id)
    )


async def click(meetings: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    return await meetings.get(urlsplit(url).path, headers=headers)


def token_of(url: str) -> str:
    return url.rsplit("/j/", 1)[1]


async def admissions(app: FastAPI, person: ClearedParticipant) -> list[Participant]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(Participant)
            .where(Participant.person_id == person.person_id)
            .order_by(Participant.admission_no)  # type: ignore[arg-type]
        )
        return list(rows.all())


# --- links given with the meeting -----------------------------------------------------------


async def test_each_cleared_member_gets_their_own_gated_link_with_the_meeting(
    internal: Post, apps: dict[str, FastAPI]
) -> None:
    ani, budi = cleared("Ani"), cleared("Budi")

    meeting = await provisioned(internal, ani, budi)

    public_url = apps["meetings"].state.settings.meetings_public_url
    links = {link["person_id"]: link["join_url"] for link in meeting["join_links"]}
    assert set(links) == {str(ani.person_id), str(budi.person_id)}
    assert all(url.startswith(f"{public_url}/j/") for url in links.values())
    assert len({token_of(url) for url in links.values()}) == 2
    assert all(len(token_of(url)) == 43 for url in links.values())
    assert all(meeting["host_url"] not in url for url in links.values())


async def test_replaying_the_provisioning_key_returns_the_same_links(
    internal: Post, meetings: httpx.AsyncClient
) -> None:
    ani = cleared()
    body, key = provision_body(uuid.uuid4(), ani), f"provision:{uuid.uuid4()}"

    first = await internal("/internal/v1/meetings", body, key)
    again = await internal("/internal/v1/meetings", body, key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["join_links"] == first.json()["join_links"]


async def test_only_a_hash_of_the_token_is_stored(internal: Post, apps: dict[str, FastAPI]) -> None:
    ani = cleared()

    token = token_of(link_of(await provisioned(internal, ani), ani))

    [admission] = await admissions(apps["meetings"], ani)
    assert admission.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(admission.model_dump())
    assert admission.status == "active" and admission.admission_no == 1
    assert admission.consent_ids == [str(ani.consents[0].consent_id)]


# --- members cleared later ------------------------------------------------------------------


async def test_a_member_cleared_later_is_admitted_with_their_own_link(internal: Post) -> None:
    session_id, ani, budi = uuid.uuid4(), cleared("Ani"), cleared("Budi")
    meeting = await provisioned(internal, ani, session_id=session_id)

    answer = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants",
        {"clearance": clearance(session_id, budi)},
    )

    assert answer.status_code == 200, answer.text
    [link] = answer.json()["join_links"]
    assert link["person_id"] == str(budi.person_id)
    assert link["join_url"] != link_of(meeting, ani)


async def test_the_same_admission_replayed_returns_the_same_link(internal: Post) -> None:
    session_id, ani, budi = uuid.uuid4(), cleared("Ani"), cleared("Budi")
    meeting = await provisioned(internal, ani, session_id=session_id)
    path, key = f"/internal/v1/meetings/{meeting['id']}/participants", f"admit:{uuid.uuid4()}"
    body = {"clearance": clearance(session_id, budi)}

    first = await internal(path, body, key)
    again = await internal(path, body, key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


async def test_someone_already_admitted_keeps_their_link_whatever_the_key(
    internal: Post, apps: dict[str, FastAPI]
) -> None:
    session_id, ani = uuid.uuid4(), cleared()
    meeting = await provisioned(internal, ani, session_id=session_id)

    answer = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants",
        {"clearance": clearance(session_id, ani)},
    )

    assert answer.json()["join_links"][0]["join_url"] == link_of(meeting, ani)
    assert len(await admissions(apps["meetings"], ani)) == 1


async def test_revoked_then_admitted_again_gets_a_new_link_and_the_old_one_stays_dead(
    internal: Post, meetings: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    session_id, ani = uuid.uuid4(), cleared()
    meeting = await provisioned(internal, ani, session_id=session_id)
    old = link_of(meeting, ani)

    revoked = await internal(
        f"/internal/v1/meetings/{meeting['id']}/revocations",
        {"person_id": str(ani.person_id), "reason": "consent withdrawn"},
    )
    admitted = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants",
        {"clearance": clearance(session_id, ani)},
    )

    assert revoked.json() == {"revoked": True}
    new = admitted.json()["join_links"][0]["join_url"]
    assert new != old
    refused = await click(meetings, old)
    assert refused.status_code == 403
    assert "Persetujuan Anda tidak aktif" in refused.text
    assert "belum dibuka" in (await click(meetings, new)).text  # alive, only early
    first, second = await admissions(apps["meetings"], ani)
    assert (first.status, first.revoke_reason, first.revoked_at is not None) == (
        "revoked",
        "consent withdrawn",
        True,
    )
    assert (second.status, second.admission_no) == ("active", 2)


async def test_revoking_someone_without_an_active_link_is_a_harmless_false(
    internal: Post,
) -> None:
    ani = cleared()
    meeting = await provisioned(internal, ani)
    path = f"/internal/v1/meetings/{meeting['id']}/revocations"

    stranger = await internal(path, {"person_id": str(uuid.uuid4()), "reason": "x"})
    first = await internal(path, {"person_id": str(ani.person_id), "reason": "withdrawn"})
    again = await internal(path, {"person_id": str(ani.person_id), "reason": "withdrawn"})

    assert [a.status_code for a in (stranger, first, again)] == [200, 200, 200]
    assert [a.json()["revoked"] for a in (stranger, first, again)] == [False, True, False]


# --- refusals -------------------------------------------------------------------------------


async def test_a_clearance_for_another_session_or_platform_is_refused_with_422(
    internal: Post, apps: dict[str, FastAPI]
) -> None:
    session_id, ani, budi = uuid.uuid4(), cleared(), cleared(platform=Provider.zoom)
    meeting = await provisioned(internal, ani, session_id=session_id)
    path = f"/internal/v1/meetings/{meeting['id']}/participants"

    other_session = await internal(path, {"clearance": clearance(uuid.uuid4(), cleared())})
    other_platform = await internal(
        path, {"clearance": clearance(session_id, budi, platform=Provider.zoom)}
    )

    assert other_session.status_code == 422, other_session.text
    assert "another session" in other_session.json()["detail"]
    assert other_platform.status_code == 422, other_platform.text
    assert "another platform" in other_platform.json()["detail"]
    assert await admissions(apps["meetings"], budi) == []


async def test_admitting_someone_not_cleared_is_refused_with_422(
    internal: Post, apps: dict[str, FastAPI]
) -> None:
    session_id, ani = uuid.uuid4(), cleared()
    meeting = await provisioned(internal, ani, session_id=session_id)
    minor = cleared().model_copy(update={"needs_guardian": True})
    forced = Clearance.model_construct(
        session_id=session_id,
        platform=Provider.jitsi,
        text_version=TEXT_VERSION,
        policy_version=Clearance.model_fields["policy_version"].default,
        participants=[minor],
    ).model_dump(mode="json")

    answer = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants", {"clearance": forced}
    )

    assert answer.status_code == 422, answer.text
    assert "guardian_consent_missing" in answer.json()["detail"]
    assert await admissions(apps["meetings"], minor) == []


async def test_admitting_to_an_unknown_meeting_is_404(internal: Post) -> None:
    answer = await internal(
        f"/internal/v1/meetings/{uuid.uuid4()}/participants",
        {"clearance": clearance(uuid.uuid4(), cleared())},
    )

    assert answer.status_code == 404, answer.text


async def test_an_admission_needs_an_idempotency_key(internal: Post) -> None:
    session_id = uuid.uuid4()
    meeting = await provisioned(internal, cleared(), session_id=session_id)

    answer = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants",
        {"clearance": clearance(session_id, cleared())},
        key=None,
    )

    assert answer.status_code == 422, answer.text
    assert "idempotency-key" in [e["field"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    "path",
    [
        "/internal/v1/meetings/{id}/participants",
        "/internal/v1/meetings/{id}/revocations",
        "/internal/v1/meetings/{id}/reschedule",
        "/internal/v1/sessions/{session}/cancel",
    ],
)
async def test_the_internal_routes_need_a_service_token(
    path: str, internal: Post, meetings: httpx.AsyncClient
) -> None:
    meeting = await provisioned(internal, cleared())
    url = path.format(id=meeting["id"], session=meeting["session_id"])

    answer = await meetings.post(url, json={}, headers={"Idempotency-Key": "k" * 10})

    assert answer.status_code == 401, answer.text


# --- cancelled and rescheduled --------------------------------------------------------------


async def test_cancelling_the_session_makes_every_link_410(
    internal: Post, meetings: httpx.AsyncClient
) -> None:
    session_id, ani, budi = uuid.uuid4(), cleared("Ani"), cleared("Budi")
    meeting = await provisioned(internal, ani, budi, session_id=session_id)
    path, key = f"/internal/v1/sessions/{session_id}/cancel", f"cancel:{uuid.uuid4()}"

    body = {"reason": "ujian susulan", "provision_keys": [meeting["provision_key"]]}
    answer = await internal(path, body, key)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cancelled": [meeting["id"]]}
    for person in (ani, budi):
        page = await click(meetings, link_of(meeting, person))
        assert page.status_code == 410
        assert "Sesi dibatalkan" in page.text
    replay = await internal(path, body, key)
    assert replay.json() == {"cancelled": [meeting["id"]]}
    another = await internal(path, {**body, "reason": "sekali lagi"})
    assert another.json() == {"cancelled": []}


async def test_a_cancelled_meeting_takes_no_admissions_or_new_times(internal: Post) -> None:
    session_id = uuid.uuid4()
    meeting = await provisioned(internal, cleared(), session_id=session_id)
    await internal(
        f"/internal/v1/sessions/{session_id}/cancel",
        {"reason": "batal", "provision_keys": [meeting["provision_key"]]},
    )

    admit = await internal(
        f"/internal/v1/meetings/{meeting['id']}/participants",
        {"clearance": clearance(session_id, cleared())},
    )
    moved = await internal(
        f"/internal/v1/meetings/{meeting['id']}/reschedule",
        {"scheduled_start": START.isoformat(), "duration_minutes": 60, "title": "Baru"},
    )

    assert admit.status_code == moved.status_code == 409


async def test_a_late_replay_of_a_cancel_leaves_a_newer_meeting_alone(internal: Post) -> None:
    session_id = uuid.uuid4()
    old = await provisioned(internal, cleared(), session_id=session_id)
    path, key = f"/internal/v1/sessions/{session_id}/cancel", f"cancel:{uuid.uuid4()}"
    body = {"reason": "platform changed", "provision_keys": [old["provision_key"]]}
    await internal(path, body, key)
    new = await provisioned(internal, cleared(), session_id=session_id)

    replay = await internal(path, body, key)

    assert replay.json() == {"cancelled": [old["id"]]}
    moved = await internal(
        f"/internal/v1/meetings/{new['id']}/reschedule",
        {"scheduled_start": START.isoformat(), "duration_minutes": 45, "title": "Sesi"},
    )
    assert moved.status_code == 200, moved.text


async def test_a_cancel_names_only_the_meetings_it_means(internal: Post) -> None:
    session_id = uuid.uuid4()
    kept = await provisioned(internal, cleared(), session_id=session_id)
    gone = await provisioned(internal, cleared(), session_id=session_id)
    answer = await internal(
        f"/internal/v1/sessions/{session_id}/cancel",
        {"reason": "basi", "provision_keys": [gone["provision_key"]]},
    )
    assert answer.json() == {"cancelled": [gone["id"]]}
    moved = await internal(
        f"/internal/v1/meetings/{kept['id']}/reschedule",
        {"scheduled_start": START.isoformat(), "duration_minutes": 45, "title": "Sesi"},
    )
    assert moved.status_code == 200, moved.text


async def test_a_request_cancelled_before_it_arrives_makes_no_meeting(internal: Post) -> None:
    """The api cancelled a meeting still being made; the late request must not make it."""
    session_id, key = uuid.uuid4(), f"provision:{uuid.uuid4()}"
    await internal(
        f"/internal/v1/sessions/{session_id}/cancel",
        {"reason": "batal", "provision_keys": [key]},
    )
    late = await internal("/internal/v1/meetings", provision_body(session_id, cleared()), key)
    assert late.status_code == 409, late.text
    assert "cancelled before it was made" in late.json()["detail"]


async def test_rescheduling_moves_the_join_window_and_keeps_the_links(
    internal: Post, meetings: httpx.AsyncClient
) -> None:
    ani = cleared()
    meeting = await provisioned(internal, ani)
    link = link_of(meeting, ani)
    before = await click(meetings, link)
    later = datetime(2030, 3, 6, 13, 0, tzinfo=JAKARTA)

    moved = await internal(
        f"/internal/v1/meetings/{meeting['id']}/reschedule",
        {"scheduled_start": later.isoformat(), "duration_minutes": 90, "title": "Sesi"},
    )

    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["scheduled_start"]) == later
    assert moved.json()["duration_minutes"] == 90
    assert moved.json()["join_links"] == [{"person_id": str(ani.person_id), "join_url": link}]
    assert "Senin, 4 Maret 2030 pukul 08.45 WIB" in before.text
    after = await click(meetings, link)
    assert after.status_code == 403
    assert "Rabu, 6 Maret 2030 pukul 12.45 WIB" in after.text
    past = datetime.now(JAKARTA) - timedelta(days=1)
    await internal(
        f"/internal/v1/meetings/{meeting['id']}/reschedule",
        {"scheduled_start": past.isoformat(), "duration_minutes": 60, "title": "Sesi"},
    )
    assert (await click(meetings, link)).status_code == 410


async def test_rescheduling_an_unknown_meeting_is_404(internal: Post) -> None:
    answer = await internal(
        f"/internal/v1/meetings/{uuid.uuid4()}/reschedule",
        {"scheduled_start": START.isoformat(), "duration_minutes": 60, "title": "Sesi"},
    )

    assert answer.status_code == 404, answer.text


# --- units ----------------------------------------------------------------------------------


def test_a_link_is_derived_from_meeting_person_and_admission() -> None:
    links = JoinLinks(secret="s" * 40, public_url="https://lingkar.example/")
    meeting_id, person_id = uuid.uuid4(), uuid.uuid4()

    def token(n: int, secret: str = "s" * 40) -> str:
        maker = JoinLinks(secret=secret, public_url="https://lingkar.example")
        return maker.token(meeting_id=meeting_id, person_id=person_id, admission_no=n)

    assert token(1) == token(1)
    assert len({token(1), token(2), token(1, secret="t" * 40)}) == 3
    assert links.url(token(1)) == f"https://lingkar.example/j/{token(1)}"
    assert len(token(1)) == 43 and "=" not in token(1)
