"""Tenant isolation: a school sees nothing of another, and people see only what is theirs.

A resource outside the caller's reach is reported as not found (404), never as forbidden, so
its existence does not leak; ids of another school named in a payload are invalid input (422).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import SchoolKit, bearer

PROBLEM_JSON = "application/problem+json"


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def fields_of(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


async def listed_ids(api: httpx.AsyncClient, token: str, **params: str) -> set[str]:
    """Every session id the caller's listing shows, following the cursor to the end."""
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(50):
        query = {"limit": "100", **params, **({"cursor": cursor} if cursor else {})}
        answer = await api.get("/v1/sessions", params=query, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen |= {item["id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return seen
    raise AssertionError("the listing never ended")


@pytest.fixture
async def a_session(school: SchoolKit) -> dict[str, Any]:
    """A session of school A, with its group, counselor and students."""
    return await school.session()


def _resource_path(session: dict[str, Any], resource: str) -> str:
    group = session["group"]
    return {
        "user": f"/v1/users/{group['members'][0]['student_id']}",
        "counselor": f"/v1/users/{group['counselor_id']}",
        "group": f"/v1/groups/{group['id']}",
        "session": f"/v1/sessions/{session['id']}",
        "session_history": f"/v1/sessions/{session['id']}/history",
    }[resource]


@pytest.mark.parametrize("resource", ["user", "counselor", "group", "session", "session_history"])
async def test_another_schools_admin_gets_404_for_our_resources(
    school: SchoolKit, other_school: SchoolKit, a_session: dict[str, Any], resource: str
) -> None:
    path = _resource_path(a_session, resource)
    # The owner sees it: the 404 below is about the other school, not a bad path.
    await school.get(path)
    answer = await other_school.api.get(path, headers=other_school.auth)
    body = assert_problem(answer, 404)
    assert a_session["title"] not in answer.text
    assert a_session["group"]["counselor"]["name"] not in answer.text
    assert body["type"].endswith("not-found")


async def test_another_schools_admin_cannot_change_our_session_and_gets_404(
    school: SchoolKit, other_school: SchoolKit, a_session: dict[str, Any]
) -> None:
    sid = a_session["id"]
    moved = await other_school.api.post(
        f"/v1/sessions/{sid}/transitions", json={"to": "cancelled"}, headers=other_school.auth
    )
    assert_problem(moved, 404)
    platform = await other_school.api.put(
        f"/v1/sessions/{sid}/platform", json={"provider": "zoom"}, headers=other_school.auth
    )
    assert_problem(platform, 404)
    unchanged = await school.get(f"/v1/sessions/{sid}")
    assert unchanged["stage"] == "pre_preparation"
    assert unchanged["platform"] is None


async def test_another_schools_admin_cannot_plan_a_session_for_our_group(
    school: SchoolKit, other_school: SchoolKit, a_session: dict[str, Any]
) -> None:
    answer = await other_school.api.post(
        "/v1/sessions",
        json={
            "group_id": a_session["group_id"],
            "title": "Sesi curian",
            "scheduled_start": a_session["scheduled_start"],
            "duration_minutes": 60,
        },
        headers=other_school.auth,
    )
    assert_problem(answer, 404)
    assert await listed_ids(school.api, school.token) == {a_session["id"]}


async def test_another_schools_admin_cannot_link_a_guardian_to_our_student(
    school: SchoolKit, other_school: SchoolKit, a_session: dict[str, Any]
) -> None:
    their_guardian = await other_school.user("guardian")
    our_student = a_session["group"]["members"][0]["student_id"]
    answer = await other_school.api.post(
        f"/v1/users/{our_student}/guardians",
        json={"guardian_id": their_guardian["id"], "relationship": "mother"},
        headers=other_school.auth,
    )
    assert_problem(answer, 404)


async def test_a_schools_session_list_never_shows_another_schools_sessions(
    school: SchoolKit, other_school: SchoolKit, a_session: dict[str, Any]
) -> None:
    ours = await other_school.session()
    assert await listed_ids(other_school.api, other_school.token) == {ours["id"]}
    assert await listed_ids(school.api, school.token) == {a_session["id"]}
    # Filtering on the other school's group id finds nothing rather than their sessions.
    filtered = await listed_ids(
        other_school.api, other_school.token, group_id=a_session["group_id"]
    )
    assert filtered == set()


async def test_a_group_cannot_be_led_by_another_schools_counselor(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    their_counselor = await school.user("counselor")
    students = [await other_school.user("student") for _ in range(2)]
    answer = await other_school.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Campuran",
            "counselor_id": their_counselor["id"],
            "member_ids": [s["id"] for s in students],
            "field": "career",
        },
        headers=other_school.auth,
    )
    body = assert_problem(answer, 422)
    assert fields_of(body) == ["counselor_id"]


async def test_a_group_cannot_hold_another_schools_students(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    counselor = await other_school.user("counselor")
    own_student = await other_school.user("student")
    their_student = await school.user("student")
    answer = await other_school.api.post(
        "/v1/groups",
        json={
            "name": "Kelompok Campuran",
            "counselor_id": counselor["id"],
            "member_ids": [own_student["id"], their_student["id"]],
            "field": "social",
        },
        headers=other_school.auth,
    )
    body = assert_problem(answer, 422)
    assert fields_of(body) == ["member_ids.1"]
    assert their_student["name"] not in answer.text


async def test_a_guardian_of_another_school_cannot_be_linked_to_our_student(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    their_guardian = await school.user("guardian")
    own_student = await other_school.user("student")
    answer = await other_school.api.post(
        f"/v1/users/{own_student['id']}/guardians",
        json={"guardian_id": their_guardian["id"], "relationship": "father"},
        headers=other_school.auth,
    )
    body = assert_problem(answer, 422)
    assert fields_of(body) == ["guardian_id"]
    # Control: the same call with a guardian of the school itself works.
    own_guardian = await other_school.user("guardian")
    await other_school.post(
        f"/v1/users/{own_student['id']}/guardians",
        {"guardian_id": own_guardian["id"], "relationship": "father"},
    )


# --- inside one school: people see what is theirs ---------------------------------------------


async def test_a_student_sees_their_own_session_but_not_another_groups(
    school: SchoolKit, a_session: dict[str, Any]
) -> None:
    elsewhere = await school.session()
    student_id = a_session["group"]["members"][0]["student_id"]
    token = await school.token_for(student_id)

    own = await school.api.get(f"/v1/sessions/{a_session['id']}", headers=bearer(token))
    assert own.status_code == 200, own.text
    assert own.json()["id"] == a_session["id"]
    assert student_id in own.json()["participant_ids"]

    other = await school.api.get(f"/v1/sessions/{elsewhere['id']}", headers=bearer(token))
    assert_problem(other, 404)
    assert await listed_ids(school.api, token) == {a_session["id"]}


async def test_a_student_may_not_read_groups_or_people(
    school: SchoolKit, a_session: dict[str, Any]
) -> None:
    student_id = a_session["group"]["members"][0]["student_id"]
    token = await school.token_for(student_id)
    for path in (
        f"/v1/groups/{a_session['group_id']}",
        f"/v1/users/{a_session['group']['members'][1]['student_id']}",
    ):
        answer = await school.api.get(path, headers=bearer(token))
        # Refused by role (403) or as not theirs to see (404); either way, nothing of it shows.
        assert answer.status_code in (403, 404), answer.text
        assert answer.headers["content-type"].startswith(PROBLEM_JSON)
        assert "name" not in answer.json()
        assert "members" not in answer.json()


async def test_a_counselor_sees_the_sessions_they_lead_but_not_a_colleagues(
    school: SchoolKit, a_session: dict[str, Any]
) -> None:
    colleague_session = await school.session()
    counselor_id = a_session["group"]["counselor_id"]
    token = await school.token_for(counselor_id)

    own = await school.api.get(f"/v1/sessions/{a_session['id']}", headers=bearer(token))
    assert own.status_code == 200, own.text
    assert own.json()["counselor_id"] == counselor_id

    other = await school.api.get(f"/v1/sessions/{colleague_session['id']}", headers=bearer(token))
    assert_problem(other, 404)
    other_group = await school.api.get(
        f"/v1/groups/{colleague_session['group_id']}", headers=bearer(token)
    )
    assert_problem(other_group, 404)
    assert await listed_ids(school.api, token) == {a_session["id"]}


async def test_a_counselor_cannot_move_a_colleagues_session(
    school: SchoolKit, a_session: dict[str, Any]
) -> None:
    colleague_session = await school.session()
    token = await school.token_for(a_session["group"]["counselor_id"])
    answer = await school.api.post(
        f"/v1/sessions/{colleague_session['id']}/transitions",
        json={"to": "cancelled", "reason": "bukan sesi saya"},
        headers=bearer(token),
    )
    assert_problem(answer, 404)
    assert (await school.get(f"/v1/sessions/{colleague_session['id']}"))["stage"] == (
        "pre_preparation"
    )
