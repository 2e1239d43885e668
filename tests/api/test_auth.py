"""The token endpoint and the bearer check in front of every public route.

Tokens come from `POST /v1/oauth/token` (client credentials, or RFC 8693 token exchange for
one of the school's own users); every public route then admits a token by its role and school.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.models import ApiClient
from services.api.auth.principal import Principal, Role
from services.api.auth.tokens import AccessTokens
from services.api.schools import service as school_service
from tests.conftest import SECRET_KEY
from tests.factories import TOKEN_EXCHANGE, USER_ID_TYPE, SchoolKit, bearer

PROBLEM_JSON = "application/problem+json"


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert "Traceback" not in answer.text
    return body


async def exchange(school: SchoolKit, user_id: str, **form: str) -> httpx.Response:
    return await school.api.post(
        "/v1/oauth/token",
        auth=(school.client_id, school.client_secret),
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": user_id,
            "subject_token_type": USER_ID_TYPE,
            **form,
        },
    )


def principal_of(apps: dict[str, FastAPI], token: str) -> Any:
    return apps["api"].state.access_tokens.verify(token)


# --- client credentials ------------------------------------------------------------------


async def test_client_credentials_by_http_basic_give_a_bearer_jwt_that_opens_the_api(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(school.client_id, school.client_secret),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert set(body["scope"].split()) == {"school.read", "school.write", "school.admin"}
    assert body["access_token"].count(".") == 2  # a compact JWS
    created = await api.post(
        "/v1/users",
        json={"role": "student", "name": "Ayu"},
        headers=bearer(body["access_token"]),
    )
    assert created.status_code == 201, created.text


async def test_client_credentials_in_the_form_give_a_bearer_jwt_that_opens_the_api(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": school.client_id,
            "client_secret": school.client_secret,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert "school.admin" in body["scope"].split()
    created = await api.post(
        "/v1/users",
        json={"role": "student", "name": "Budi"},
        headers=bearer(body["access_token"]),
    )
    assert created.status_code == 201, created.text


async def test_a_narrower_scope_gives_a_token_with_only_that_scope(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "school.read"},
        auth=(school.client_id, school.client_secret),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "school.read"
    refused = await api.post(
        "/v1/users",
        json={"role": "student", "name": "Citra"},
        headers=bearer(answer.json()["access_token"]),
    )
    assert_problem(refused, 403)


@pytest.mark.parametrize("how", ["basic", "form"])
async def test_a_wrong_secret_is_refused_as_invalid_client_without_echoing_it(
    school: SchoolKit, api: httpx.AsyncClient, how: str
) -> None:
    wrong = "Wr0ng-" + uuid.uuid4().hex
    if how == "basic":
        answer = await api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(school.client_id, wrong),
        )
    else:
        answer = await api.post(
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": school.client_id,
                "client_secret": wrong,
            },
        )
    body = assert_problem(answer, 401)
    assert body["error"] == "invalid_client"
    assert "access_token" not in body
    assert wrong not in answer.text
    assert school.client_secret not in answer.text


async def test_an_unknown_client_is_refused_as_invalid_client(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("lk_nobody", "whatever-secret"),
    )
    body = assert_problem(answer, 401)
    assert body["error"] == "invalid_client"
    assert "whatever-secret" not in answer.text


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),  # not UTF-8
        "Basic abc",  # not base64
    ],
    ids=["not_utf8", "not_base64"],
)
async def test_malformed_basic_credentials_are_refused_as_invalid_client(
    api: httpx.AsyncClient, authorization: str
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )
    body = assert_problem(answer, 401)
    assert body["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("how", ["basic", "form"])
async def test_a_client_id_holding_a_nul_is_refused_as_invalid_client(
    api: httpx.AsyncClient, how: str
) -> None:
    if how == "basic":
        answer = await api.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("lk_\x00evil", "secret"),
        )
    else:
        answer = await api.post(
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "lk_\x00evil",
                "client_secret": "secret",
            },
        )
    assert answer.status_code in (400, 401), answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert answer.json()["error"] == "invalid_client"


async def test_an_unknown_grant_type_is_refused_as_unsupported_grant_type(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=(school.client_id, school.client_secret),
    )
    body = assert_problem(answer, 400)
    assert body["error"] == "unsupported_grant_type"
    assert "access_token" not in body


async def test_asking_for_a_scope_the_client_lacks_is_refused_as_invalid_scope(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "school.read platform.admin"},
        auth=(school.client_id, school.client_secret),
    )
    body = assert_problem(answer, 400)
    assert body["error"] == "invalid_scope"
    assert "access_token" not in body


# --- token exchange (RFC 8693) -------------------------------------------------------------


async def test_exchanging_for_a_student_gives_a_student_token(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    student = await school.user("student")
    answer = await exchange(school, student["id"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert "school.admin" not in body["scope"].split()
    principal = principal_of(apps, body["access_token"])
    assert principal.role == Role.student
    assert str(principal.user_id) == student["id"]
    assert principal.school_id == school.school_id


async def test_a_students_token_may_not_create_users_or_groups(school: SchoolKit) -> None:
    group = await school.group(members=2)
    student_id = group["members"][0]["student_id"]
    token = await school.token_for(student_id)
    made_user = await school.api.post(
        "/v1/users", json={"role": "student", "name": "Dewi"}, headers=bearer(token)
    )
    assert_problem(made_user, 403)
    made_group = await school.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Sendiri",
            "counselor_id": group["counselor_id"],
            "member_ids": [m["student_id"] for m in group["members"]],
            "field": "social",
        },
        headers=bearer(token),
    )
    assert_problem(made_group, 403)


async def test_a_counselors_token_creates_a_group_they_lead(school: SchoolKit) -> None:
    counselor = await school.user("counselor")
    students = [await school.user("student") for _ in range(2)]
    token = await school.token_for(counselor["id"])
    answer = await school.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Belajar",
            "counselor_id": counselor["id"],
            "member_ids": [s["id"] for s in students],
            "field": "learning",
        },
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["counselor_id"] == counselor["id"]


async def test_a_counselors_token_may_not_create_a_group_led_by_another_counselor(
    school: SchoolKit,
) -> None:
    counselor = await school.user("counselor")
    colleague = await school.user("counselor")
    students = [await school.user("student") for _ in range(2)]
    token = await school.token_for(counselor["id"])
    answer = await school.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Titipan",
            "counselor_id": colleague["id"],
            "member_ids": [s["id"] for s in students],
            "field": "personal",
        },
        headers=bearer(token),
    )
    assert_problem(answer, 403)


async def test_exchanging_for_a_user_of_another_school_is_an_invalid_grant(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    stranger = await other_school.user("counselor")
    answer = await exchange(school, stranger["id"])
    body = assert_problem(answer, 400)
    assert body["error"] == "invalid_grant"
    assert "access_token" not in body


async def test_exchanging_for_nobody_is_an_invalid_grant(school: SchoolKit) -> None:
    answer = await exchange(school, str(uuid.uuid4()))
    assert assert_problem(answer, 400)["error"] == "invalid_grant"


async def test_exchanging_with_a_wrong_subject_token_type_is_refused(school: SchoolKit) -> None:
    student = await school.user("student")
    answer = await exchange(
        school,
        student["id"],
        subject_token_type="urn:ietf:params:oauth:token-type:access_token",
    )
    body = assert_problem(answer, 400)
    assert body["error"] == "invalid_request"
    assert "access_token" not in body


# --- the bearer check on public routes -----------------------------------------------------


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    student = await school.user("student")
    answer = await api.get(f"/v1/users/{student['id']}")
    assert_problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert student["name"] not in answer.text


def _expired_token(school: SchoolKit) -> str:
    tokens = AccessTokens(secret=SECRET_KEY, ttl_seconds=-10)
    issued = tokens.issue(
        role=Role.school_admin,
        subject=school.client_id,
        client_id=school.client_id,
        scopes=["school.read", "school.write", "school.admin"],
        school_id=school.school_id,
    )
    return str(issued["access_token"])


def _foreign_key_token(school: SchoolKit) -> str:
    tokens = AccessTokens(secret="another-key-that-is-long-enough-000000000", ttl_seconds=600)
    issued = tokens.issue(
        role=Role.school_admin,
        subject=school.client_id,
        client_id=school.client_id,
        scopes=["school.read", "school.write", "school.admin"],
        school_id=school.school_id,
    )
    return str(issued["access_token"])


BAD_TOKENS: dict[str, Callable[[SchoolKit], str]] = {
    "garbage": lambda _school: "not-a-jwt-at-all",
    "three_garbage_parts": lambda _school: "aaa.bbb.ccc",
    "signed_with_another_key": _foreign_key_token,
    "expired": _expired_token,
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_bad_token_is_refused_with_401(school: SchoolKit, kind: str) -> None:
    student = await school.user("student")
    token = BAD_TOKENS[kind](school)
    answer = await school.api.get(f"/v1/users/{student['id']}", headers=bearer(token))
    assert_problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert student["name"] not in answer.text


async def test_the_expired_token_would_have_worked_if_fresh(school: SchoolKit) -> None:
    """Control for the expired case above: same key, same claims, only the clock differs."""
    student = await school.user("student")
    fresh = AccessTokens(secret=SECRET_KEY, ttl_seconds=600).issue(
        role=Role.school_admin,
        subject=school.client_id,
        client_id=school.client_id,
        scopes=["school.read", "school.write", "school.admin"],
        school_id=school.school_id,
    )
    answer = await school.api.get(
        f"/v1/users/{student['id']}", headers=bearer(fresh["access_token"])
    )
    assert answer.status_code == 200, answer.text


async def test_a_service_token_does_not_open_a_public_route(
    school: SchoolKit, service_token: Callable[[str], str]
) -> None:
    student = await school.user("student")
    answer = await school.api.get(
        f"/v1/users/{student['id']}", headers=bearer(service_token("api"))
    )
    assert_problem(answer, 401)
    listing = await school.api.get("/v1/sessions", headers=bearer(service_token("api")))
    assert_problem(listing, 401)


# --- the platform API ----------------------------------------------------------------------


async def platform_token(apps: dict[str, FastAPI], api: httpx.AsyncClient) -> str:
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        credentials = await school_service.create_platform_client(db=db, name="Operator")
        await db.commit()
    answer = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "platform.admin"
    return str(answer.json()["access_token"])


async def test_a_platform_client_brings_a_school_on_whose_admin_client_then_works(
    apps: dict[str, FastAPI], api: httpx.AsyncClient
) -> None:
    token = await platform_token(apps, api)
    answer = await api.post(
        "/v1/platform/schools",
        json={"name": "SMA Negeri 3 Makassar", "timezone": "Asia/Makassar"},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["school"]["name"] == "SMA Negeri 3 Makassar"
    assert created["school"]["timezone"] == "Asia/Makassar"
    admin = created["admin_client"]
    assert admin["client_id"] and admin["client_secret"]

    issued = await api.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(admin["client_id"], admin["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    assert "school.admin" in issued.json()["scope"].split()
    person = await api.post(
        "/v1/users",
        json={"role": "counselor", "name": "Bu Rina", "email": "rina@sman3.example"},
        headers=bearer(issued.json()["access_token"]),
    )
    assert person.status_code == 201, person.text
    assert person.json()["school_id"] == created["school"]["id"]


async def test_a_platform_token_does_not_act_inside_a_school(
    apps: dict[str, FastAPI], api: httpx.AsyncClient
) -> None:
    token = await platform_token(apps, api)
    answer = await api.post(
        "/v1/users", json={"role": "student", "name": "Eka"}, headers=bearer(token)
    )
    assert_problem(answer, 403)


async def test_a_platform_client_may_not_exchange_tokens_for_users(
    apps: dict[str, FastAPI], api: httpx.AsyncClient, school: SchoolKit
) -> None:
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        credentials = await school_service.create_platform_client(db=db, name="Operator 2")
        await db.commit()
    student = await school.user("student")
    answer = await api.post(
        "/v1/oauth/token",
        auth=(credentials.client_id, credentials.client_secret),
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": student["id"],
            "subject_token_type": USER_ID_TYPE,
        },
    )
    body = assert_problem(answer, 400)
    assert body["error"] == "unauthorized_client"


async def test_a_school_admin_token_may_not_use_the_platform_api(school: SchoolKit) -> None:
    answer = await school.api.post(
        "/v1/platform/schools", json={"name": "Sekolah Liar"}, headers=school.auth
    )
    assert_problem(answer, 403)
    listing = await school.api.get("/v1/platform/schools", headers=school.auth)
    assert_problem(listing, 403)


def test_a_verified_token_is_remembered_until_it_expires_and_refused_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.api.auth import tokens as tokens_module
    from services.api.auth.principal import Role
    from services.api.auth.tokens import AccessTokens
    from shared.problems import Unauthorized

    tokens = AccessTokens(secret="a-secret-that-is-long-enough-for-hs256-000", ttl_seconds=60)
    token = tokens.issue(
        role=Role.counselor, subject="c", client_id="x", scopes=["read"], school_id=None
    )["access_token"]
    decoded = []
    real = tokens._decode

    def counted(token: str) -> tuple[Principal, int]:
        decoded.append(token)
        return real(token)

    monkeypatch.setattr(tokens, "_decode", counted)
    first, again = tokens.verify(token), tokens.verify(token)
    assert first == again and first.role == Role.counselor
    assert len(decoded) == 1  # the second use is not decoded again

    now = tokens_module.time.time()
    monkeypatch.setattr(tokens_module.time, "time", lambda: now + 61)
    with pytest.raises(Unauthorized):
        tokens.verify(token)  # remembered, but expired: refused all the same
    with pytest.raises(Unauthorized):
        tokens.verify(token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1])


def test_the_memory_of_verified_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.api.auth import tokens as tokens_module
    from services.api.auth.principal import Role
    from services.api.auth.tokens import AccessTokens

    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 3)
    tokens = AccessTokens(secret="a-secret-that-is-long-enough-for-hs256-000", ttl_seconds=60)
    issued = [
        tokens.issue(
            role=Role.counselor, subject=f"c{i}", client_id="x", scopes=["read"], school_id=None
        )["access_token"]
        for i in range(5)
    ]
    for token in issued:
        tokens.verify(token)
    assert list(tokens._verified) == issued[-3:]  # the oldest were dropped


def earlier_scrypt_hash(secret: str) -> str:
    """The form earlier versions stored: `scrypt$n$r$p$salt$digest`, base64."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    encoded = [base64.b64encode(b).decode() for b in (salt, digest)]
    return "$".join(["scrypt", "16384", "8", "1", *encoded])


async def stored_hash(app: FastAPI, client_id: str, replace: str | None = None) -> str:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        row = (await db.exec(select(ApiClient).where(ApiClient.client_id == client_id))).one()
        if replace is not None:
            row.secret_hash = replace
            await db.commit()
        return row.secret_hash


async def token_answer(api: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await api.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def test_a_client_secret_is_stored_as_its_sha256_digest_and_nothing_else(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    """32 random bytes need no slow hash (see auth/secrets.py): one SHA-256, no plain text."""
    stored = await stored_hash(apps["api"], school.client_id)
    expected = hashlib.sha256(school.client_secret.encode()).hexdigest()
    assert stored == f"sha256${expected}"
    assert school.client_secret not in stored


async def test_a_secret_stored_by_an_earlier_version_still_works_and_is_then_stored_anew(
    school: SchoolKit, apps: dict[str, FastAPI], api: httpx.AsyncClient
) -> None:
    earlier = earlier_scrypt_hash(school.client_secret)
    await stored_hash(apps["api"], school.client_id, replace=earlier)

    wrong = await token_answer(api, school.client_id, "Wr0ng-" + uuid.uuid4().hex)
    assert_problem(wrong, 401)
    assert await stored_hash(apps["api"], school.client_id) == earlier  # a wrong one: no change

    first = await token_answer(api, school.client_id, school.client_secret)
    assert first.status_code == 200, first.text
    digest = hashlib.sha256(school.client_secret.encode()).hexdigest()
    assert await stored_hash(apps["api"], school.client_id) == f"sha256${digest}"

    again = await token_answer(api, school.client_id, school.client_secret)
    assert again.status_code == 200, again.text
    assert_problem(await token_answer(api, school.client_id, "Wr0ng-" + uuid.uuid4().hex), 401)


async def test_earlier_scrypt_hashes_are_checked_a_few_at_a_time_so_a_flood_cannot_take_the_memory(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each scrypt check holds 16 MiB; twelve token requests at once run at most four checks."""
    import asyncio
    import threading
    import time as time_module

    from services.api.auth import oauth, router

    await stored_hash(
        apps["api"], school.client_id, replace=earlier_scrypt_hash(school.client_secret)
    )
    running, most = 0, 0
    lock = threading.Lock()
    real = oauth.verify_secret

    def watched(secret: str, stored: str) -> bool:
        nonlocal running, most
        if not stored.startswith("scrypt$"):
            # A request that read the client after the first good check had replaced the hash:
            # a quick check, on the event loop, that the limit is not for.
            return real(secret, stored)
        with lock:
            running += 1
            most = max(most, running)
        time_module.sleep(0.2)  # long enough for the others to pile up
        try:
            return real(secret, stored)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(oauth, "verify_secret", watched)
    answers = await asyncio.gather(
        *(token_answer(api, school.client_id, school.client_secret) for _ in range(12))
    )
    assert [a.status_code for a in answers] == [200] * 12
    assert router.SCRYPT_CHECKS.total_tokens == 4
    assert 2 <= most <= 4, most  # they did pile up, and no more than four ran at once
