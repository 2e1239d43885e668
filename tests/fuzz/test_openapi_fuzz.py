"""Schemathesis against each service's own OpenAPI document, in-process, authenticated.

Every operation the documents list is fuzzed with data that fits its schema and with data
that does not, on a school of its own: the api as the school's admin client (and, for what a
counselor works with, as the session's counselor by token exchange), the internal routes with
our own service tokens. Whatever comes back must be documented (status, media
type, body schema), never a 5xx, and every error must be problem+json with type, title,
status and detail. Routes added later are covered as soon as they appear in a document.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import client_for, common_settings
from tests.factories import SchoolKit, bearer, new_school

PROBLEM_JSON = "application/problem+json"
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
# The session's counselor, by token exchange, on what a counselor works with: fewer examples,
# since the school admin's pass already covers the shapes.
COUNSELOR_EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}
COUNSELOR_PATHS = ("/v1/sessions/{session_id}", "/v1/me")
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Our own service tokens reach the internal routes; each receiver knows its audience.
AUDIENCE = {"meetings": "meetings", "notifications": "notifications"}


def _documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, from apps built only to read them (never started)."""
    from services.api.main import create_app as create_api
    from services.api.settings import ApiSettings
    from services.meetings.main import create_app as create_meetings
    from services.meetings.settings import MeetingsSettings
    from services.notifications.main import create_app as create_notifications
    from services.notifications.settings import NotificationsSettings
    from tests.conftest import SECRET_KEY

    unused = Path("/nonexistent-lingkar-openapi")
    common = common_settings(unused)
    common["log_level"] = "WARNING"
    return {
        "api": create_api(
            ApiSettings(
                **common, api_database_url=f"sqlite:///{unused}/a.db", secret_key=SECRET_KEY
            )
        ).openapi(),
        "meetings": create_meetings(
            MeetingsSettings(**common, meetings_database_url=f"sqlite:///{unused}/m.db")
        ).openapi(),
        "notifications": create_notifications(
            NotificationsSettings(**common, notifications_database_url=f"sqlite:///{unused}/n.db")
        ).openapi(),
    }


DOCUMENTS = _documents()
OPERATIONS = [
    pytest.param(service, path, method, caller, id=f"{service} {method.upper()} {path} {caller}")
    for service, document in DOCUMENTS.items()
    for path, item in document["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
    for caller in ("admin", "counselor")
    if caller == "admin" or (service == "api" and path.startswith(COUNSELOR_PATHS))
]


@dataclass
class Tenant:
    """A school with one session in it: the real ids the fuzzer's paths point at."""

    kit: SchoolKit
    ids: dict[str, str]


async def tenant(apps: dict[str, FastAPI], api: httpx.AsyncClient) -> Tenant:
    kit = await new_school(apps["api"], api, name=f"SMA Fuzz {uuid.uuid4().hex[:6]}")
    session = await kit.session()
    group = session["group"]
    student = group["members"][0]["student_id"]
    return Tenant(
        kit=kit,
        ids={
            "session_id": session["id"],
            "group_id": group["id"],
            "user_id": group["counselor"]["id"],
            "student_id": student,
            "school_id": str(kit.school_id),
        },
    )


def problems_are_complete(case: Any, response: httpx.Response) -> None:
    """Every error is RFC 9457 problem+json naming type, title, status and detail.

    The one exception is a page for a person's browser (the join links), where the document
    says the error is a page.
    """
    if response.status_code < 400:
        return
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type == "text/html" and case.operation.definition.raw.get("responses", {}).get(
        str(response.status_code), {}
    ).get("content", {}).get("text/html"):
        return
    assert media_type == PROBLEM_JSON, f"{response.status_code} as {media_type}: {response.text}"
    body = response.json()
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"no {member!r} in {body}"
    assert body["status"] == response.status_code, body


def as_httpx(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The request schemathesis means, encoded once by requests, for an httpx client."""
    kwargs = case.as_transport_kwargs(base_url="https://fuzz.test", headers=headers)
    kwargs.pop("timeout", None)
    kwargs.pop("allow_redirects", None)
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": body,
    }


def modes_for(operation: Any) -> list[GenerationMode]:
    """Wrong input needs somewhere to go: an operation without parameters or body (/healthz)
    gets only the right kind."""
    raw = operation.definition.raw
    if raw.get("parameters") or raw.get("requestBody"):
        return list(EXAMPLES)
    return [GenerationMode.POSITIVE]


def fuzz(
    operation: Any,
    *,
    mode: GenerationMode,
    fixed: dict[str, str],
    headers: dict[str, str],
    send: Any,
    examples_of: dict[GenerationMode, int],
) -> None:
    """Run one operation's examples (in a worker thread; `send` runs on the test's loop)."""

    @settings(
        max_examples=examples_of[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def examples(case: Any) -> None:
        response = send(as_httpx(case, headers))
        assert response.status_code < 500, f"{response.status_code}: {response.text}"
        case.validate_response(response, checks=CHECKS)
        problems_are_complete(case, response)

    examples()


async def token_of(place: Tenant, service: str, caller: str, service_token: Any) -> str:
    if service in AUDIENCE:
        return str(service_token(AUDIENCE[service]))
    if caller == "counselor":
        return await place.kit.token_for(place.ids["user_id"])
    return place.kit.token


@pytest.mark.parametrize(("service", "path", "method", "caller"), OPERATIONS)
async def test_every_documented_operation_answers_as_documented(
    apps: dict[str, FastAPI],
    api: httpx.AsyncClient,
    service_token: Any,
    service: str,
    path: str,
    method: str,
    caller: str,
) -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENTS[service])
    operation = schema[path][method.upper()]
    place = await tenant(apps, api)
    token = await token_of(place, service, caller, service_token)
    examples_of = COUNSELOR_EXAMPLES if caller == "counselor" else EXAMPLES
    names = {p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"}
    fixed = {name: value for name, value in place.ids.items() if name in names}
    # An API client's request: a browser's pages are the browser tests' part.
    headers = {**bearer(token), "Accept": "application/json"}
    loop = asyncio.get_running_loop()
    async with client_for(apps[service], "https://fuzz.test") as client:

        def send(request: dict[str, Any]) -> httpx.Response:
            return asyncio.run_coroutine_threadsafe(client.request(**request), loop).result(30)

        for mode in modes_for(operation):
            try:
                await asyncio.to_thread(
                    fuzz,
                    operation,
                    mode=mode,
                    fixed=fixed,
                    headers=headers,
                    send=send,
                    examples_of=examples_of,
                )
            except Unsatisfiable:
                # No wrong input exists where every part left free takes any string (/j/{token}).
                assert mode is GenerationMode.NEGATIVE, operation.label
