"""The ethics gate: who is cleared, what each lacks, and the meeting that follows it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.factories import (
    COMPLETE_PLAN,
    SchoolKit,
    eventually,
    follow_host_link,
    grant_consent,
    notifications_about,
)

ADULT = "2000-01-01"


async def adult_session(
    school: SchoolKit,
    members: int = 3,
    students: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A session of adult members (or of these students), on Jitsi."""
    counselor = await school.user("counselor")
    students = students or [await school.user("student", birth_date=ADULT) for _ in range(members)]
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok Belajar",
            "counselor_id": counselor["id"],
            "member_ids": [s["id"] for s in students],
            "field": "learning",
        },
    )
    group["counselor"], group["students"] = counselor, students
    session = await school.session(group, **extra)
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    return session


async def ready_to_provision(school: SchoolKit, session: dict[str, Any]) -> None:
    sid = session["id"]
    await school.api.put(f"/v1/sessions/{sid}/plan", json=COMPLETE_PLAN, headers=school.auth)
    await school.post(f"/v1/sessions/{sid}/attestation", {})
    await school.post(f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, expect=200)


def member(gate: dict[str, Any], student_id: str) -> dict[str, Any]:
    return next(m for m in gate["members"] if m["student_id"] == student_id)


def codes(items: list[dict[str, str]]) -> list[str]:
    return [i["code"] for i in items]


async def test_the_gate_lists_the_session_and_each_members_missing_items(
    school: SchoolKit,
) -> None:
    session = await adult_session(school)
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert gate["met"] is False
    assert codes(gate["unmet"]) == [
        "plan_incomplete",
        "attestation_missing",
        "not_enough_members_cleared",
    ]
    assert len(gate["members"]) == 3
    for m in gate["members"]:
        assert m["cleared"] is False and codes(m["missing"]) == ["student_consent_missing"]


async def test_an_adult_students_own_consent_clears_them(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school)
    student = session["group"]["students"][0]
    await grant_consent(apps["api"], session=session, student_id=student["id"])
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, student["id"]) == {
        "student_id": student["id"],
        "cleared": True,
        "needs_guardian": False,
        "missing": [],
    }


async def test_a_minor_needs_a_guardian_on_file_and_their_consent(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await school.session()  # students without a birth date count as minors
    student_id = session["participant_ids"][0]
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    await grant_consent(apps["api"], session=session, student_id=student_id)
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, student_id)["needs_guardian"] is True
    assert codes(member(gate, student_id)["missing"]) == [
        "guardian_consent_missing",
        "no_guardian_on_file",
    ]

    guardian = await school.user("guardian", email="ibu@example.id")
    await school.post(
        f"/v1/users/{student_id}/guardians",
        {"guardian_id": guardian["id"], "relationship": "mother"},
    )
    await grant_consent(
        apps["api"],
        session=session,
        student_id=student_id,
        signer="guardian",
        signer_id=guardian["id"],
    )
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, student_id)["cleared"] is True


async def test_a_guardians_consent_alone_does_not_clear_a_minor(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await school.session()
    student_id = session["participant_ids"][0]
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    guardian = await school.user("guardian")
    await school.post(
        f"/v1/users/{student_id}/guardians",
        {"guardian_id": guardian["id"], "relationship": "father"},
    )
    await grant_consent(
        apps["api"],
        session=session,
        student_id=student_id,
        signer="guardian",
        signer_id=guardian["id"],
    )
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert codes(member(gate, student_id)["missing"]) == ["student_consent_missing"]


async def test_a_decline_clears_no_one_and_a_later_decline_takes_clearance_back(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school)
    first, second = (s["id"] for s in session["group"]["students"][:2])
    await grant_consent(apps["api"], session=session, student_id=first, decision="declined")
    await grant_consent(apps["api"], session=session, student_id=second)
    await grant_consent(apps["api"], session=session, student_id=second, decision="declined")
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, first)["cleared"] is False
    assert member(gate, second)["cleared"] is False


async def test_consent_for_another_platform_or_text_version_does_not_cover(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school)
    first, second = (s["id"] for s in session["group"]["students"][:2])
    await grant_consent(apps["api"], session=session, student_id=first, platform="zoom")
    await grant_consent(apps["api"], session=session, student_id=second, text_version="0")
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert codes(member(gate, first)["missing"]) == ["student_consent_missing"]
    assert codes(member(gate, second)["missing"]) == ["student_consent_missing"]


async def test_the_plan_draft_says_what_is_missing(school: SchoolKit) -> None:
    session = await adult_session(school)
    saved = await school.api.put(
        f"/v1/sessions/{session['id']}/plan",
        json={"topic_kind": "free", "objectives": []},
        headers=school.auth,
    )
    assert saved.status_code == 200
    plan = saved.json()["plan"]
    assert plan["complete"] is False
    assert plan["missing"] == ["topic", "objectives", "evaluation_plan"]
    done = await school.api.put(
        f"/v1/sessions/{session['id']}/plan", json=COMPLETE_PLAN, headers=school.auth
    )
    assert done.json()["plan"]["complete"] is True


async def test_the_attestation_is_recorded_once(school: SchoolKit) -> None:
    session = await adult_session(school)
    first = await school.api.post(f"/v1/sessions/{session['id']}/attestation", headers=school.auth)
    again = await school.api.post(f"/v1/sessions/{session['id']}/attestation", headers=school.auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["attested_at"] == again.json()["attested_at"]


async def test_asking_for_the_meeting_early_lists_everything_unmet_and_is_recorded(
    school: SchoolKit,
) -> None:
    session = await adult_session(school)
    await school.post(
        f"/v1/sessions/{session['id']}/transitions", {"to": "preparation"}, expect=200
    )
    refused = await school.api.post(f"/v1/sessions/{session['id']}/meeting", headers=school.auth)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert codes(refused.json()["unmet"]) == [
        "plan_incomplete",
        "attestation_missing",
        "not_enough_members_cleared",
    ]
    history = await school.get(f"/v1/sessions/{session['id']}/history")
    assert [(h["kind"], h["to"]) for h in history][-1] == ("gate", "refused")


async def test_the_meeting_is_made_the_moment_the_gate_is_first_met_in_preparation(
    school: SchoolKit, apps: dict[str, FastAPI], meetings: httpx.AsyncClient
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    await ready_to_provision(school, session)
    await grant_consent(
        apps["api"], session=session, student_id=session["group"]["students"][0]["id"]
    )
    assert (await school.get(f"/v1/sessions/{sid}"))["meeting"] is None
    await grant_consent(
        apps["api"], session=session, student_id=session["group"]["students"][1]["id"]
    )

    async def provisioned() -> Any:
        return (await school.get(f"/v1/sessions/{sid}"))["meeting"]

    await eventually(provisioned)
    view = await school.get(f"/v1/sessions/{sid}/meeting")
    room = await follow_host_link(meetings, view["host_url"])
    assert room.startswith("https://jitsi.example.sch.id/Lingkar")

    async def host_told() -> Any:
        sent = await notifications_about(apps["notifications"], sid)
        return [n for n in sent if n[0] == "meeting_provisioned_host"]

    [(_, data, people)] = await eventually(host_told)
    assert people == {session["group"]["counselor"]["id"]}
    assert data["host_url"] == view["host_url"]


async def test_a_gate_met_in_pre_preparation_waits_for_preparation(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await school.api.put(f"/v1/sessions/{sid}/plan", json=COMPLETE_PLAN, headers=school.auth)
    await school.post(f"/v1/sessions/{sid}/attestation", {})
    got = await school.get(f"/v1/sessions/{sid}")
    assert got["gate"]["met"] is True and got["meeting"] is None
    history = await school.get(f"/v1/sessions/{sid}/history")
    assert all(h["kind"] != "gate" for h in history)
