"""The internal APIs open only to our own services, with a service token addressed to them.

Every refusal below sends a body the route would accept, so a 401 can only come from the
token; the last tests show the same body with a proper token is accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.service_auth import ServiceTokens
from tests.conftest import SERVICE_SECRET, client_for
from tests.factories import SchoolKit, bearer, follow_host_link, new_school

PROBLEM_JSON = "application/problem+json"


def provision_request() -> tuple[dict[str, Any], dict[str, str]]:
    """A valid meeting request (a clearance admitting only the host) and its headers."""
    session_id = str(uuid.uuid4())
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = {
        "school_id": str(uuid.uuid4()),
        "session_id": session_id,
        "provider": "jitsi",
        "title": "Sesi internal",
        "scheduled_start": start.isoformat(),
        "duration_minutes": 60,
        "timezone": "Asia/Jakarta",
        "host": {"person_id": str(uuid.uuid4()), "name": "Bu Sari"},
        "clearance": {
            "session_id": session_id,
            "platform": "jitsi",
            "text_version": "2025-01",
            "participants": [],
        },
    }
    return body, {"Idempotency-Key": f"test-{uuid.uuid4().hex}"}


def notification_request() -> tuple[dict[str, Any], dict[str, str]]:
    body = {
        "idempotency_key": f"test-{uuid.uuid4().hex}",
        "school_id": str(uuid.uuid4()),
        "event": "meeting_provisioned_host",
        "recipients": [
            {"person_id": str(uuid.uuid4()), "name": "Bu Sari", "email": "sari@sekolah.example"}
        ],
        "data": {"title": "Sesi internal"},
    }
    return body, {}


ROUTES: dict[str, tuple[str, str, Callable[[], tuple[dict[str, Any], dict[str, str]]], int]] = {
    # receiver: (path, the other service, a valid request, the status it is accepted with)
    "meetings": ("/internal/v1/meetings", "notifications", provision_request, 201),
    "notifications": ("/internal/v1/notifications", "meetings", notification_request, 202),
}


@pytest.fixture(scope="module")
async def kit(apps: dict[str, FastAPI]) -> AsyncIterator[SchoolKit]:
    async with client_for(apps["api"], "https://api.test") as client:
        yield await new_school(apps["api"], client, name="SMA Internal")


@pytest.fixture
def clients(
    meetings: httpx.AsyncClient, notifications: httpx.AsyncClient
) -> dict[str, httpx.AsyncClient]:
    return {"meetings": meetings, "notifications": notifications}


def _expired(receiver: str) -> str:
    return ServiceTokens(service="api", secret=SERVICE_SECRET, ttl_seconds=-10).issue(receiver)


def _wrong_secret(receiver: str) -> str:
    tokens = ServiceTokens(service="api", secret="not-the-service-secret-0000000000000")
    return tokens.issue(receiver)


async def _refusal(
    kind: str,
    receiver: str,
    service_token: Callable[[str], str],
    school: SchoolKit,
) -> dict[str, str]:
    other = ROUTES[receiver][1]
    if kind == "no_token":
        return {}
    if kind == "user_access_token":
        return bearer(school.token)
    if kind == "user_access_token_of_a_student":
        student = await school.user("student")
        return bearer(await school.token_for(student["id"]))
    if kind == "service_token_for_the_other_service":
        return bearer(service_token(other))
    if kind == "service_token_for_the_api":
        return bearer(service_token("api"))
    if kind == "expired_service_token":
        return bearer(_expired(receiver))
    if kind == "service_token_signed_with_another_secret":
        return bearer(_wrong_secret(receiver))
    if kind == "service_token_as_basic_auth":
        return {"Authorization": f"Basic {service_token(receiver)}"}
    raise AssertionError(kind)


REFUSALS = [
    "no_token",
    "user_access_token",
    "user_access_token_of_a_student",
    "service_token_for_the_other_service",
    "service_token_for_the_api",
    "expired_service_token",
    "service_token_signed_with_another_secret",
    "service_token_as_basic_auth",
]


@pytest.mark.parametrize("kind", REFUSALS)
@pytest.mark.parametrize("receiver", list(ROUTES))
async def test_an_internal_route_refuses_anything_but_its_own_service_token(
    receiver: str,
    kind: str,
    clients: dict[str, httpx.AsyncClient],
    service_token: Callable[[str], str],
    kit: SchoolKit,
) -> None:
    path, _other, make, _accepted = ROUTES[receiver]
    body, headers = make()
    auth = await _refusal(kind, receiver, service_token, kit)
    answer = await clients[receiver].post(path, json=body, headers={**headers, **auth})
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Traceback" not in answer.text
    assert "id" not in answer.json()  # nothing was made


@pytest.mark.parametrize("receiver", list(ROUTES))
async def test_an_internal_route_accepts_a_service_token_addressed_to_it(
    receiver: str,
    clients: dict[str, httpx.AsyncClient],
    service_token: Callable[[str], str],
) -> None:
    path, _other, make, accepted = ROUTES[receiver]
    body, headers = make()
    answer = await clients[receiver].post(
        path, json=body, headers={**headers, **bearer(service_token(receiver))}
    )
    assert answer.status_code == accepted, answer.text
    made = answer.json()
    uuid.UUID(made["id"])
    if receiver == "meetings":
        assert made["session_id"] == body["session_id"]
        room = await follow_host_link(clients["meetings"], made["host_url"])
        assert room.startswith("https://jitsi.example.sch.id/")
    else:
        assert made["status"] == "accepted"
        assert made["deliveries"] == 1


@pytest.mark.parametrize(
    "path", ["/internal/v1/meetings", "/internal/v1/notifications", "/internal/v1/anything"]
)
async def test_the_public_api_does_not_serve_internal_routes(
    kit: SchoolKit,
    service_token: Callable[[str], str],
    path: str,
) -> None:
    body, headers = provision_request() if path.endswith("meetings") else notification_request()
    for auth in (bearer(service_token("api")), kit.auth, {}):
        answer = await kit.api.post(path, json=body, headers={**headers, **auth})
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM_JSON)
