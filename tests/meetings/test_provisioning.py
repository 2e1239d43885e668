"""Provisioning a meeting: the gate is checked again on arrival, and one key gives one meeting."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.models import Meeting
from services.meetings.providers.jitsi import ROOM_PREFIX, new_room_name
from shared.contracts.meetings import (
    Clearance,
    ClearedParticipant,
    ConsentEvidence,
    Host,
    ProvisionRequest,
)
from shared.gate import Signer, member_missing
from shared.stages import Provider
from tests.factories import follow_host_link

JITSI_SERVER = "https://jitsi.example.sch.id"
TEXT_VERSION = "consent-text-3"
ROOM = re.compile(rf"^{ROOM_PREFIX}[A-Z2-7]{{26,}}$")
PATH = "/internal/v1/meetings"


def consent(
    signer: Signer = Signer.student,
    *,
    platform: Provider = Provider.jitsi,
    text_version: str = TEXT_VERSION,
    granted: bool = True,
    withdrawn: bool = False,
) -> ConsentEvidence:
    return ConsentEvidence(
        consent_id=uuid.uuid4(),
        signer=signer,
        platform=platform,
        text_version=text_version,
        granted=granted,
        withdrawn=withdrawn,
    )


def participant(*consents: ConsentEvidence, minor: bool = False) -> ClearedParticipant:
    return ClearedParticipant(
        person_id=uuid.uuid4(),
        name="Siswa Contoh",
        email="siswa@sekolah.example",
        needs_guardian=minor,
        consents=list(consents),
    )


def provision_body(
    *participants: ClearedParticipant,
    provider: Provider = Provider.jitsi,
    session_id: uuid.UUID | None = None,
    clearance_session_id: uuid.UUID | None = None,
    clearance_platform: Provider | None = None,
    title: str = "Mengelola stres menjelang ujian",
    checked: bool = True,
) -> dict[str, Any]:
    """A ProvisionRequest as JSON; `checked=False` skips the models' own checks, as a faulty
    or hostile caller would, so the meetings service's check is what is tested."""
    session_id = session_id or uuid.uuid4()
    build_clearance = Clearance if checked else Clearance.model_construct
    build_request = ProvisionRequest if checked else ProvisionRequest.model_construct
    clearance = build_clearance(
        session_id=clearance_session_id or session_id,
        platform=clearance_platform or provider,
        text_version=TEXT_VERSION,
        participants=list(participants),
    )
    request = build_request(
        school_id=uuid.uuid4(),
        session_id=session_id,
        provider=provider,
        fallback_provider=None,
        title=title,
        scheduled_start=(datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0),
        duration_minutes=60,
        timezone="Asia/Jakarta",
        host=Host(person_id=uuid.uuid4(), name="Bu Rina", email="rina@sekolah.example"),
        clearance=clearance,
    )
    body: dict[str, Any] = request.model_dump(mode="json")
    return body


@pytest.fixture
def provision(
    meetings: httpx.AsyncClient, service_token: Callable[[str], str]
) -> Callable[..., Any]:
    async def post(body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {service_token('meetings')}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return await meetings.post(PATH, json=body, headers=headers)

    return post


async def meetings_for(app: FastAPI, session_id: str | uuid.UUID) -> int:
    async with AsyncSession(app.state.engine) as db:
        count = (
            await db.exec(
                select(func.count())
                .select_from(Meeting)
                .where(Meeting.session_id == uuid.UUID(str(session_id)))
            )
        ).one()
    return int(count)


def new_key() -> str:
    return f"provision:{uuid.uuid4()}"


def cleared_adult() -> ClearedParticipant:
    return participant(consent(Signer.student))


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


# --- the first call and its replays ---------------------------------------------------------


async def test_first_request_creates_a_jitsi_room_on_the_configured_server(
    provision: Callable[..., Any], apps: dict[str, FastAPI], meetings: httpx.AsyncClient
) -> None:
    body = provision_body(cleared_adult())

    answer = await provision(body, new_key())

    assert answer.status_code == 201, answer.text
    meeting = answer.json()
    assert meeting["provider"] == "jitsi"
    assert meeting["session_id"] == body["session_id"]
    # The counselor's link is Lingkar's host gate; behind it, the room on the server.
    server, room = (await follow_host_link(meetings, meeting["host_url"])).rsplit("/", 1)
    assert server == JITSI_SERVER
    assert ROOM.match(room), room
    assert await meetings_for(apps["meetings"], body["session_id"]) == 1


async def test_replaying_the_same_key_returns_the_same_meeting_with_200(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    body, key = provision_body(cleared_adult()), new_key()

    first = await provision(body, key)
    again = await provision(body, key)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["host_url"] == first.json()["host_url"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 1


async def test_same_key_with_a_different_body_is_a_409_conflict(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    body, key = provision_body(cleared_adult()), new_key()
    first = await provision(body, key)
    assert first.status_code == 201, first.text

    changed = {**body, "title": "Another title entirely"}
    answer = await provision(changed, key)

    problem = assert_problem(answer, 409)
    assert "Idempotency-Key" in problem["detail"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 1


async def test_missing_idempotency_key_is_refused_naming_the_header(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    body = provision_body(cleared_adult())

    answer = await provision(body, key=None)

    problem = assert_problem(answer, 422)
    assert "idempotency-key" in [e["field"] for e in problem["errors"]]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


async def test_two_keys_give_two_different_rooms(provision: Callable[..., Any]) -> None:
    body = provision_body(cleared_adult())

    first = await provision(body, new_key())
    second = await provision(body, new_key())

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["host_url"] != second.json()["host_url"]


async def test_a_request_without_a_service_token_is_refused(
    meetings: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    body = provision_body(cleared_adult())

    answer = await meetings.post(PATH, json=body, headers={"Idempotency-Key": new_key()})

    assert_problem(answer, 401)
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


# --- the gate, checked again on arrival -----------------------------------------------------


async def test_minor_with_student_and_guardian_consent_is_provisioned(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    minor = participant(consent(Signer.student), consent(Signer.guardian), minor=True)
    body = provision_body(minor, cleared_adult())

    answer = await provision(body, new_key())

    assert answer.status_code == 201, answer.text
    assert await meetings_for(apps["meetings"], body["session_id"]) == 1


UNCLEARED = {
    "no_consent_at_all": lambda: participant(),
    "minor_with_only_the_student_consent": lambda: participant(consent(Signer.student), minor=True),
    "withdrawn_consent": lambda: participant(consent(withdrawn=True)),
    "declined_consent": lambda: participant(consent(granted=False)),
    "consent_for_another_platform": lambda: participant(consent(platform=Provider.zoom)),
    "consent_for_another_text_version": lambda: participant(consent(text_version="consent-text-2")),
    "minor_whose_guardian_withdrew": lambda: participant(
        consent(Signer.student), consent(Signer.guardian, withdrawn=True), minor=True
    ),
}


@pytest.mark.parametrize("case", list(UNCLEARED))
async def test_uncleared_participant_is_refused_with_422_and_no_meeting(
    case: str, provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    uncovered = UNCLEARED[case]()
    with pytest.raises(ValidationError):  # the shared model refuses to build it...
        provision_body(cleared_adult(), uncovered)
    body = provision_body(cleared_adult(), uncovered, checked=False)  # ...so force it

    answer = await provision(body, new_key())

    problem = assert_problem(answer, 422)
    assert "not cleared" in problem["detail"]
    assert str(uncovered.person_id) in problem["detail"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


async def test_minor_without_guardian_consent_names_the_guardian_code(
    provision: Callable[..., Any],
) -> None:
    minor = participant(consent(Signer.student), minor=True)
    body = provision_body(minor, checked=False)

    answer = await provision(body, new_key())

    problem = assert_problem(answer, 422)
    assert "guardian_consent_missing" in problem["detail"]
    assert "student_consent_missing" not in problem["detail"]


async def test_clearance_for_another_session_is_refused(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    body = provision_body(cleared_adult(), clearance_session_id=uuid.uuid4(), checked=False)

    answer = await provision(body, new_key())

    problem = assert_problem(answer, 422)
    assert "another session" in problem["detail"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


async def test_clearance_for_another_platform_is_refused(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    zoom_cleared = participant(consent(platform=Provider.zoom))
    body = provision_body(zoom_cleared, clearance_platform=Provider.zoom, checked=False)
    assert body["provider"] == "jitsi"

    answer = await provision(body, new_key())

    problem = assert_problem(answer, 422)
    assert "another platform" in problem["detail"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


async def test_zoom_is_refused_with_409_as_not_configured(
    provision: Callable[..., Any], apps: dict[str, FastAPI]
) -> None:
    body = provision_body(participant(consent(platform=Provider.zoom)), provider=Provider.zoom)

    answer = await provision(body, new_key())

    problem = assert_problem(answer, 409)
    assert "not configured" in problem["detail"]
    assert "zoom" in problem["detail"]
    assert await meetings_for(apps["meetings"], body["session_id"]) == 0


# --- units ----------------------------------------------------------------------------------


def test_member_missing_lists_both_codes_for_a_minor_with_nothing() -> None:
    missing = member_missing([], platform="jitsi", text_version=TEXT_VERSION, needs_guardian=True)

    assert [m.code for m in missing] == ["student_consent_missing", "guardian_consent_missing"]
    assert all("jitsi" in m.message and TEXT_VERSION in m.message for m in missing)


def test_member_missing_is_empty_for_a_covered_minor() -> None:
    consents = [consent(Signer.student), consent(Signer.guardian)]

    assert (
        member_missing(consents, platform="jitsi", text_version=TEXT_VERSION, needs_guardian=True)
        == []
    )


def test_new_room_names_are_unique_and_unguessable() -> None:
    names = [new_room_name() for _ in range(1000)]

    assert len(set(names)) == 1000
    assert all(ROOM.match(name) for name in names)
