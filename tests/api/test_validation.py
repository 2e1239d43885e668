"""Malformed input is answered with 422 problem+json naming the field and why, never a 500.

Every case also checks that no stack trace reaches the client. The cases run on one school
(module-scoped): they only ever send input the API must refuse.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
from tests.factories import SchoolKit, new_school

PROBLEM_JSON = "application/problem+json"


def assert_clean(answer: httpx.Response) -> None:
    assert answer.status_code != 500, answer.text
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text


def assert_invalid(answer: httpx.Response, field: str, *reason_words: str) -> dict[str, Any]:
    """A 422 problem whose errors name exactly `field`, with a reason holding `reason_words`."""
    assert_clean(answer)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = answer.json()
    assert body["status"] == 422
    assert body["type"].endswith("validation-error")
    errors = body["errors"]
    assert errors, body
    assert {e["field"] for e in errors} == {field}, errors
    for error in errors:
        assert error["reason"].strip(), error
    reasons = " ".join(e["reason"] for e in errors).lower()
    for word in reason_words:
        assert word.lower() in reasons, errors
    return body


@pytest.fixture(scope="module")
async def kit(apps: dict[str, FastAPI]) -> AsyncIterator[SchoolKit]:
    async with client_for(apps["api"], "https://api.test") as client:
        yield await new_school(apps["api"], client, name="SMA Validasi")


@pytest.fixture(scope="module")
async def a_group(kit: SchoolKit) -> dict[str, Any]:
    return await kit.group(members=2)


@pytest.fixture(scope="module")
async def a_session(kit: SchoolKit, a_group: dict[str, Any]) -> dict[str, Any]:
    return await kit.session(a_group)


# --- people --------------------------------------------------------------------------------

_NEXT_YEAR = (date.today() + timedelta(days=366)).isoformat()

USER_CASES: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "bad_timezone": (
        {"role": "student", "name": "Ayu", "timezone": "Mars/Olympus_Mons"},
        "timezone",
        ("Mars/Olympus_Mons", "time zone"),
    ),
    "bad_email": (
        {"role": "counselor", "name": "Bu Sari", "email": "sari-at-sekolah"},
        "email",
        ("email",),
    ),
    "birth_date_in_the_future": (
        {"role": "student", "name": "Ayu", "birth_date": _NEXT_YEAR},
        "birth_date",
        ("future",),
    ),
    "birth_date_on_a_counselor": (
        {"role": "counselor", "name": "Pak Dodi", "birth_date": "1980-05-17"},
        "birth_date",
        ("students only",),
    ),
    "unknown_role": ({"role": "teacher", "name": "Pak Eko"}, "role", ("counselor",)),
    "missing_name": ({"role": "student"}, "name", ("required",)),
    "empty_name": ({"role": "student", "name": ""}, "name", ("at least 1",)),
    "name_with_nul": ({"role": "student", "name": "Ayu\u0000Lestari"}, "name", ("NUL",)),
    "phone_without_country_code": (
        {"role": "guardian", "name": "Ibu Ani", "phone": "081234567890"},
        "phone",
        ("pattern",),
    ),
    "unknown_locale": ({"role": "student", "name": "Ayu", "locale": "fr"}, "locale", ("'id'",)),
}


@pytest.mark.parametrize("case", list(USER_CASES))
async def test_a_bad_user_is_refused_naming_the_field(kit: SchoolKit, case: str) -> None:
    body, field, words = USER_CASES[case]
    answer = await kit.api.post("/v1/users", json=body, headers=kit.auth)
    assert_invalid(answer, field, *words)


async def test_the_same_user_without_the_mistake_is_accepted(kit: SchoolKit) -> None:
    """Control for the cases above: they fail on the named field, not on something else."""
    created = await kit.post(
        "/v1/users",
        {
            "role": "student",
            "name": "Ayu Lestari",
            "email": "ayu@sekolah.example",
            "birth_date": "2009-02-01",
            "timezone": "Asia/Makassar",
            "phone": "+6281234567890",
            "locale": "en",
        },
    )
    assert created["timezone"] == "Asia/Makassar"
    assert created["birth_date"] == "2009-02-01"


async def test_a_guardian_link_with_a_bad_id_and_relationship_names_both_fields(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    student = a_group["members"][0]["student_id"]
    answer = await kit.api.post(
        f"/v1/users/{student}/guardians",
        json={"guardian_id": "not-an-id", "relationship": "neighbour"},
        headers=kit.auth,
    )
    assert_clean(answer)
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"guardian_id", "relationship"}


# --- sessions ------------------------------------------------------------------------------


def _session_body(group: dict[str, Any], **changes: Any) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    return {
        "group_id": group["id"],
        "title": "Menyusun rencana belajar",
        "scheduled_start": start.isoformat(),
        "duration_minutes": 60,
        **changes,
    }


_NAIVE_START = (datetime.now() + timedelta(days=3)).replace(microsecond=0).isoformat()

SESSION_CASES: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "naive_scheduled_start": ({"scheduled_start": _NAIVE_START}, "scheduled_start", ("timezone",)),
    "scheduled_start_not_a_time": ({"scheduled_start": "next tuesday"}, "scheduled_start", ()),
    "scheduled_start_beyond_the_calendar": (
        {"scheduled_start": "9999-12-31T23:59:59-23:59"},
        "scheduled_start",
        ("between",),
    ),
    "scheduled_start_before_the_calendar": (
        {"scheduled_start": "0001-01-01T00:00:00+23:59"},
        "scheduled_start",
        ("between",),
    ),
    "duration_zero": ({"duration_minutes": 0}, "duration_minutes", ("greater than",)),
    "duration_too_long": ({"duration_minutes": 241}, "duration_minutes", ("less than",)),
    "duration_not_a_number": ({"duration_minutes": "an hour"}, "duration_minutes", ()),
    "bad_timezone": ({"timezone": "Asia/Atlantis"}, "timezone", ("time zone",)),
    "title_with_nul": ({"title": "Sesi\u0000satu"}, "title", ("NUL",)),
    "group_not_an_id": ({"group_id": "kelompok-1"}, "group_id", ("uuid",)),
}


@pytest.mark.parametrize("case", list(SESSION_CASES))
async def test_a_bad_session_is_refused_naming_the_field(
    kit: SchoolKit, a_group: dict[str, Any], case: str
) -> None:
    changes, field, words = SESSION_CASES[case]
    answer = await kit.api.post(
        "/v1/sessions", json=_session_body(a_group, **changes), headers=kit.auth
    )
    assert_invalid(answer, field, *words)


async def test_the_same_session_without_the_mistake_is_accepted(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    created = await kit.post("/v1/sessions", _session_body(a_group, timezone="Asia/Jayapura"))
    assert created["stage"] == "pre_preparation"
    assert created["scheduled_start"].endswith("+09:00")


async def test_an_unknown_transition_target_is_refused_naming_to(
    kit: SchoolKit, a_session: dict[str, Any]
) -> None:
    answer = await kit.api.post(
        f"/v1/sessions/{a_session['id']}/transitions", json={"to": "graduated"}, headers=kit.auth
    )
    assert_invalid(answer, "to", "pre_preparation", "formation")
    assert (await kit.get(f"/v1/sessions/{a_session['id']}"))["stage"] == "pre_preparation"


async def test_an_unknown_platform_is_refused_naming_provider(
    kit: SchoolKit, a_session: dict[str, Any]
) -> None:
    answer = await kit.api.put(
        f"/v1/sessions/{a_session['id']}/platform", json={"provider": "skype"}, headers=kit.auth
    )
    assert_invalid(answer, "provider", "jitsi")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_CURSORS = {
    "not_base64": "%%%not-a-cursor%%%",
    "non_ascii": "kursor-é",
    "base64_of_text": _cursor("hello"),
    "json_object": _cursor(json.dumps({"after": 1})),
    "numbers": _cursor(json.dumps([1, 2])),
    "nulls": _cursor(json.dumps([None, None])),
    "id_not_a_string": _cursor(json.dumps(["2026-01-01T00:00:00+00:00", 5])),
    "time_beyond_the_calendar": _cursor(
        json.dumps(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())])
    ),
}


@pytest.mark.parametrize("case", list(BAD_CURSORS))
async def test_a_bad_cursor_is_refused_naming_cursor(kit: SchoolKit, case: str) -> None:
    answer = await kit.api.get(
        "/v1/sessions", params={"cursor": BAD_CURSORS[case]}, headers=kit.auth
    )
    assert_invalid(answer, "cursor", "cursor")


LIST_FILTER_CASES: dict[str, tuple[dict[str, str], str]] = {
    "naive_starts_after": ({"starts_after": "2026-01-01T00:00:00"}, "starts_after"),
    "starts_before_beyond_the_calendar": (
        {"starts_before": "9999-12-31T23:59:59-23:59"},
        "starts_before",
    ),
    "unknown_stage": ({"stage": "graduated"}, "stage"),
    "limit_zero": ({"limit": "0"}, "limit"),
    "limit_too_big": ({"limit": "1000"}, "limit"),
    "group_id_not_an_id": ({"group_id": "kelompok-1"}, "group_id"),
}


@pytest.mark.parametrize("case", list(LIST_FILTER_CASES))
async def test_a_bad_list_filter_is_refused_naming_it(kit: SchoolKit, case: str) -> None:
    params, field = LIST_FILTER_CASES[case]
    answer = await kit.api.get("/v1/sessions", params=params, headers=kit.auth)
    assert_invalid(answer, field)


async def test_a_cursor_the_api_gave_out_is_accepted(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    """Control for the bad cursors: a real one pages on."""
    for _ in range(2):
        await kit.post("/v1/sessions", _session_body(a_group))
    first = await kit.get("/v1/sessions", params={"limit": "1"})
    assert first["next_cursor"]
    second = await kit.get("/v1/sessions", params={"limit": "1", "cursor": first["next_cursor"]})
    assert second["items"][0]["id"] != first["items"][0]["id"]


# --- groups --------------------------------------------------------------------------------


async def _students(kit: SchoolKit, count: int) -> list[str]:
    return [(await kit.user("student"))["id"] for _ in range(count)]


async def test_a_group_listing_a_student_twice_is_refused_naming_member_ids(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    twice = a_group["members"][0]["student_id"]
    answer = await kit.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Ganda",
            "counselor_id": a_group["counselor_id"],
            "member_ids": [twice, twice, a_group["members"][1]["student_id"]],
            "field": "social",
        },
        headers=kit.auth,
    )
    assert_invalid(answer, "member_ids", "only once")


@pytest.mark.parametrize(("size", "words"), [(1, ("2 to 10", "1 given")), (11, ("11 given",))])
async def test_a_group_outside_the_schools_size_bounds_is_refused_naming_member_ids(
    kit: SchoolKit, a_group: dict[str, Any], size: int, words: tuple[str, ...]
) -> None:
    answer = await kit.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Salah Ukuran",
            "counselor_id": a_group["counselor_id"],
            "member_ids": await _students(kit, size),
            "field": "career",
        },
        headers=kit.auth,
    )
    assert_invalid(answer, "member_ids", *words)


async def test_a_group_at_the_size_bounds_is_accepted(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    for size in (2, 10):
        group = await kit.post(
            "/v1/groups",
            {
                "name": f"Kelompok {size}",
                "counselor_id": a_group["counselor_id"],
                "member_ids": await _students(kit, size),
                "field": "career",
            },
        )
        assert len(group["members"]) == size


async def test_a_group_in_an_unknown_field_of_guidance_is_refused(
    kit: SchoolKit, a_group: dict[str, Any]
) -> None:
    answer = await kit.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Astrologi",
            "counselor_id": a_group["counselor_id"],
            "member_ids": [m["student_id"] for m in a_group["members"]],
            "field": "astrology",
        },
        headers=kit.auth,
    )
    assert_invalid(answer, "field", "career")


# --- the body itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"not json", b'{"role": "student", "name": ', b"\xff\xfe{}"], ids=["text", "cut", "bom"]
)
async def test_a_body_that_is_not_json_is_refused_naming_the_body(
    kit: SchoolKit, raw: bytes
) -> None:
    answer = await kit.api.post(
        "/v1/users",
        content=raw,
        headers={**kit.auth, "content-type": "application/json"},
    )
    assert_invalid(answer, "body", "json")


async def test_a_json_body_that_is_not_utf8_is_refused_naming_the_body(kit: SchoolKit) -> None:
    # Found by the fuzzer: FastAPI answered 400 "error parsing the body", a status no route
    # documents, where every other malformed body is a 422 naming `body`.
    answer = await kit.api.post(
        "/v1/users",
        content=b'{"role": "student", "name": "Ayu \xe9\xff"}',
        headers={**kit.auth, "content-type": "application/json"},
    )
    assert_invalid(answer, "body", "utf-8")


@pytest.mark.parametrize("payload", [[{"role": "student", "name": "Ayu"}], "Ayu", 42, None])
async def test_a_body_of_the_wrong_json_type_is_refused_naming_the_body(
    kit: SchoolKit, payload: Any
) -> None:
    answer = await kit.api.post(
        "/v1/users",
        content=json.dumps(payload).encode(),
        headers={**kit.auth, "content-type": "application/json"},
    )
    assert_clean(answer)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert [e["field"] for e in answer.json()["errors"]] == ["body"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/not-a-uuid",
        "/v1/groups/123",
        "/v1/sessions/x' OR '1'='1",
        "/v1/sessions/..%2F..%2Fetc%2Fpasswd",
        "/v1/sessions/00000000-0000-0000-0000-00000000000g/history",
    ],
)
async def test_a_path_id_that_is_not_a_uuid_is_a_problem_not_a_crash(
    kit: SchoolKit, path: str
) -> None:
    answer = await kit.api.get(path, headers=kit.auth)
    assert_clean(answer)
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    if answer.status_code == 422:
        fields = [e["field"] for e in answer.json()["errors"]]
        assert len(fields) == 1
        assert fields[0].endswith("_id")
