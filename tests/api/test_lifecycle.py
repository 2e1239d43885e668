"""A session from preparation to completion, and the changes along the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from tests.api.test_gate import adult_session, codes, ready_to_provision
from tests.api.test_provisioning_races import meetings_of, settle
from tests.factories import SchoolKit, eventually, grant_consent, notifications_about

UCA = {
    "understanding": {"rating": 4, "text": "Saya paham cara memilih jurusan"},
    "comfort": {"rating": 5, "text": "Nyaman"},
    "action": {"rating": 4, "text": "Mencari info tiga kampus"},
}


async def cleared_session(
    school: SchoolKit, apps: dict[str, FastAPI], *, starts_in: timedelta, members: int = 2
) -> dict[str, Any]:
    start = (datetime.now(UTC) + starts_in).replace(microsecond=0)
    session = await adult_session(school, members=members, scheduled_start=start.isoformat())
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await ready_to_provision(school, session)

    async def provisioned() -> Any:
        return (await school.get(f"/v1/sessions/{session['id']}"))["meeting"]

    await eventually(provisioned)
    return session


async def move(school: SchoolKit, sid: str, to: str, expect: int = 200, **extra: Any) -> Any:
    return await school.post(f"/v1/sessions/{sid}/transitions", {"to": to, **extra}, expect=expect)


async def test_a_session_runs_through_its_five_stages_to_completion(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(minutes=-1))
    sid, student = session["id"], session["group"]["students"][0]["id"]

    moved = await move(school, sid, "implementation")
    assert (moved["stage"], moved["phase"]) == ("implementation", "formation")
    for phase in ("transition", "activity", "conclusion"):
        assert (await move(school, sid, phase))["phase"] == phase
    await school.post(
        f"/v1/sessions/{sid}/observations",
        {
            "student_id": student,
            "participation": 4,
            "respects_others": 5,
            "seriousness": 4,
            "notes": "Aktif menanggapi teman",
        },
    )
    await move(school, sid, "observation")
    await move(school, sid, "termination")
    refused = await move(school, sid, "completed", expect=409)
    assert codes(refused["unmet"]) == ["evaluation_missing"]
    await school.post(
        f"/v1/sessions/{sid}/evaluations", {"student_id": student, **UCA, "outcome": "resolved"}
    )
    done = await move(school, sid, "completed")
    assert done["stage"] == "completed"

    history = await school.get(f"/v1/sessions/{sid}/history")
    stages = [(h["from"], h["to"]) for h in history if h["kind"] == "stage"]
    assert stages == [
        ("pre_preparation", "preparation"),
        ("preparation", "implementation"),
        ("implementation", "observation"),
        ("observation", "termination"),
        ("termination", "completed"),
    ]
    assert any(h["kind"] == "refusal" and h["to"] == "completed" for h in history)
    assert all(h["actor"] == school.client_id for h in history if h["kind"] == "stage")

    async def follow_ups() -> Any:
        sent = await notifications_about(apps["notifications"], sid)
        kinds = sorted(d["follow_up"] for e, d, _ in sent if e == "follow_up_due")
        return kinds if len(kinds) >= 2 else None

    assert await eventually(follow_ups) == ["long_term", "short_term"]


async def test_implementation_waits_for_the_start_window(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=2))
    refused = await move(school, session["id"], "implementation", expect=409)
    assert codes(refused["unmet"]) == ["too_early"]


async def test_observations_and_evaluations_keep_to_their_stages_and_members(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(minutes=-1))
    sid, student = session["id"], session["group"]["students"][0]["id"]
    early = await school.post(
        f"/v1/sessions/{sid}/evaluations", {"student_id": student, **UCA}, expect=409
    )
    assert codes(early["unmet"]) == ["wrong_stage"]
    await move(school, sid, "implementation")
    stranger = await school.user("student")
    wrong = await school.post(
        f"/v1/sessions/{sid}/observations",
        {
            "student_id": stranger["id"],
            "participation": 3,
            "respects_others": 3,
            "seriousness": 3,
        },
        expect=422,
    )
    assert wrong["errors"][0]["field"] == "student_id"
    bad = await school.post(
        f"/v1/sessions/{sid}/observations",
        {
            "student_id": student,
            "participation": 6,
            "respects_others": 3,
            "seriousness": 3,
        },
        expect=422,
    )
    assert bad["errors"][0]["field"] == "participation"


async def test_a_member_fills_in_their_own_evaluation_but_not_the_outcome_or_anothers(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(minutes=-1))
    sid = session["id"]
    me, other = (s["id"] for s in session["group"]["students"])
    for stage in ("implementation", "observation"):
        await move(school, sid, stage)
    token = await school.token_for(me)
    as_student = {"Authorization": f"Bearer {token}"}
    own = await school.api.post(
        f"/v1/sessions/{sid}/evaluations", json={"student_id": me, **UCA}, headers=as_student
    )
    assert own.status_code == 201 and own.json()["evaluated_by_role"] == "student"
    for body in ({"student_id": other, **UCA}, {"student_id": me, **UCA, "outcome": "referred"}):
        refused = await school.api.post(
            f"/v1/sessions/{sid}/evaluations", json=body, headers=as_student
        )
        assert refused.status_code == 403
    mine = await school.api.get(f"/v1/sessions/{sid}/evaluations", headers=as_student)
    assert [e["student_id"] for e in mine.json()] == [me]
    notes = await school.api.get(f"/v1/sessions/{sid}/observations", headers=as_student)
    assert notes.status_code == 403


async def test_withdrawal_below_the_minimum_blocks_the_session_and_tells_the_counselor(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=1))
    sid, student = session["id"], session["group"]["students"][0]
    token = await school.token_for(student["id"])
    gate = await school.api.post(
        f"/v1/sessions/{sid}/consents/{student['id']}/withdraw",
        json={"reason": "Berubah pikiran"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert gate.status_code == 200, gate.text
    assert gate.json()["met"] is False
    assert codes(gate.json()["unmet"]) == ["not_enough_members_cleared"]

    history = await school.get(f"/v1/sessions/{sid}/history")
    assert ("gate", "met", "blocked") in [(h["kind"], h["from"], h["to"]) for h in history]
    refused = await move(school, sid, "implementation", expect=409)
    assert "gate_not_met" in codes(refused["unmet"])

    async def counselor_told() -> Any:
        sent = await notifications_about(apps["notifications"], sid)
        return [(d, p) for e, d, p in sent if e == "consent_withdrawn"]

    [(data, people)] = await eventually(counselor_told)
    assert people == {session["group"]["counselor"]["id"]}
    assert data["blocked"] is True and data["student_name"] == student["name"]

    records = await school.get(f"/v1/sessions/{sid}/consents")
    withdrawn = [r for r in records if r["student_id"] == student["id"]]
    assert withdrawn and all(r["withdrawn_at"] for r in withdrawn)


async def test_only_the_student_a_guardian_or_staff_may_withdraw(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=1), members=3)
    sid = session["id"]
    first, second, _ = (s["id"] for s in session["group"]["students"])
    token = await school.token_for(second)
    refused = await school.api.post(
        f"/v1/sessions/{sid}/consents/{first}/withdraw",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403
    assert (await school.get(f"/v1/sessions/{sid}"))["gate"]["met"] is True


async def test_cancelling_tells_everyone_and_needs_a_reason(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=1))
    sid = session["id"]
    missing = await school.post(f"/v1/sessions/{sid}/cancel", {}, expect=422)
    assert missing["errors"][0]["field"] == "reason"
    cancelled = await school.post(
        f"/v1/sessions/{sid}/cancel", {"reason": "Libur sekolah"}, expect=200
    )
    assert cancelled["stage"] == "cancelled" and cancelled["meeting"] is None
    again = await school.post(f"/v1/sessions/{sid}/cancel", {"reason": "lagi"}, expect=409)
    assert codes(again["unmet"]) == ["already_in_stage"]

    async def told() -> Any:
        sent = await notifications_about(apps["notifications"], sid)
        return [(d, p) for e, d, p in sent if e == "session_cancelled"]

    [(data, people)] = await eventually(told)
    assert data["reason"] == "Libur sekolah"
    await settle(apps)  # and the meeting itself is gone at the meetings service
    assert [m.status for m in await meetings_of(apps, sid)] == ["cancelled"]
    assert session["group"]["counselor"]["id"] in people


async def test_rescheduling_moves_the_session_and_tells_the_counselor(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=1))
    sid = session["id"]
    new_start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    moved = await school.api.patch(
        f"/v1/sessions/{sid}", headers=school.auth, json={"scheduled_start": new_start.isoformat()}
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["scheduled_start"]) == new_start

    async def told() -> Any:
        sent = await notifications_about(apps["notifications"], sid)
        return [d for e, d, _ in sent if e == "session_rescheduled"]

    updates = await eventually(told)
    assert updates[0]["scheduled_start"] == new_start.isoformat()
    await settle(apps)  # the provider's meeting moved too, not only the api's record
    [meeting] = await meetings_of(apps, sid)
    assert meeting.scheduled_start.replace(tzinfo=UTC) == new_start
    history = await school.get(f"/v1/sessions/{sid}/history")
    assert any(h["kind"] == "schedule" for h in history)


async def test_going_back_to_change_platform_drops_the_meeting_and_asks_consent_again(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await cleared_session(school, apps, starts_in=timedelta(days=1))
    sid = session["id"]
    no_reason = await move(school, sid, "pre_preparation", expect=409)
    assert codes(no_reason["unmet"]) == ["reason_missing"]
    back = await move(school, sid, "pre_preparation", reason="Pakai Zoom")
    assert back["meeting"] is None
    changed = await school.api.put(
        f"/v1/sessions/{sid}/platform", json={"provider": "zoom"}, headers=school.auth
    )
    gate = changed.json()["gate"]
    assert gate["met"] is False
    assert all(codes(m["missing"]) == ["student_consent_missing"] for m in gate["members"])
