"""Races and failures around the meeting: one meeting per session, links that follow consent.

Each test here reproduces a way it once went wrong (concurrent gate completion, answers out of
order, a withdrawal reaching one session of the group only, a guardian unable to withdraw, a
failed provisioning leaving the session stuck, a reschedule lost while the meeting was being
made), and looks at the meetings service's own records, not only at the api.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings.models import Meeting
from services.meetings.participants.models import Participant
from shared.timeutil import as_utc
from tests.api.test_gate import adult_session, ready_to_provision
from tests.factories import COMPLETE_PLAN, SchoolKit, eventually, grant_consent


async def meetings_of(apps: dict[str, FastAPI], session_id: str) -> list[Meeting]:
    async with AsyncSession(apps["meetings"].state.engine) as db:
        rows = await db.exec(select(Meeting).where(Meeting.session_id == uuid.UUID(session_id)))
        return list(rows.all())


async def live_meetings(apps: dict[str, FastAPI], session_id: str) -> list[Meeting]:
    return [m for m in await meetings_of(apps, session_id) if m.status != "cancelled"]


async def settle(apps: dict[str, FastAPI], seconds: float = 15.0) -> None:
    """Deliver the api's outbox until nothing is due and nothing is in flight.

    The app's own background relay may hold a message mid-call when we look (on a loaded
    machine, for a while): an empty drain alone does not mean the work is done.
    """
    relay = apps["api"].state.outbox_relay
    give_up = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < give_up:
        if await relay.drain_once():
            continue
        if not await _outbox_busy(apps):
            return
        await asyncio.sleep(0.05)


async def _outbox_busy(apps: dict[str, FastAPI]) -> bool:
    """Whether a pending message is due now or leased by a relay."""
    from services.api.outbox.models import OutboxMessage

    now = datetime.now(UTC)
    async with AsyncSession(apps["api"].state.engine) as db:
        pending = await db.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        return any(
            as_utc(m.next_attempt_at) <= now or (m.locked_until and as_utc(m.locked_until) > now)
            for m in pending.all()
        )


@contextmanager
def meetings_unreachable(apps: dict[str, FastAPI]) -> Iterator[None]:
    router = apps["api"].state.service_transport
    transport = router.transports.pop("meetings.internal")
    try:
        yield
    finally:
        router.transports["meetings.internal"] = transport


async def make_due_now(apps: dict[str, FastAPI]) -> None:
    """Undo retry backoff: what failed while meetings was away is tried again now. A message a
    relay holds right now is left alone: clearing its lease could send it twice at once."""
    from services.api.outbox.models import OutboxMessage

    now = datetime.now(UTC)
    async with AsyncSession(apps["api"].state.engine) as db:
        for message in (
            await db.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        ).all():
            if message.locked_until and as_utc(message.locked_until) > now:
                continue
            message.next_attempt_at = now
            db.add(message)
        await db.commit()


async def test_two_requests_completing_the_gate_at_once_make_one_meeting(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=3)
    students = session["group"]["students"]
    await ready_to_provision(school, session)
    await grant_consent(apps["api"], session=session, student_id=students[0]["id"])
    await asyncio.gather(
        *(grant_consent(apps["api"], session=session, student_id=s["id"]) for s in students[1:])
    )
    await settle(apps)
    assert len(await meetings_of(apps, session["id"])) == 1
    history = await school.get(f"/v1/sessions/{session['id']}/history")
    assert [h["to"] for h in history if h["kind"] == "gate"] == ["met"]


async def test_plan_and_attestation_completing_the_gate_together_make_one_meeting(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await school.post(f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, expect=200)
    await asyncio.gather(
        school.api.put(f"/v1/sessions/{sid}/plan", json=COMPLETE_PLAN, headers=school.auth),
        school.api.post(f"/v1/sessions/{sid}/attestation", headers=school.auth),
    )
    await settle(apps)
    assert len(await meetings_of(apps, sid)) == 1


async def test_answers_out_of_order_leave_exactly_the_current_meeting_alive(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    with meetings_unreachable(apps):
        await ready_to_provision(school, session)  # a first meeting asked for
        await school.post(
            f"/v1/sessions/{sid}/transitions",
            {"to": "pre_preparation", "reason": "ganti"},
            expect=200,
        )
        await school.post(f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, expect=200)
        await settle(apps)

    async def converged() -> Any:
        """The answers are replayed in whatever order the relay takes them; wait until it
        has worked through them (due now, not after a backoff)."""
        await make_due_now(apps)
        await settle(apps)
        got = await school.get(f"/v1/sessions/{sid}")
        alive = await live_meetings(apps, sid)
        return (got, alive) if got["meeting"] and len(alive) == 1 else None

    got, [alive] = await eventually(converged, seconds=20)
    assert got["meeting"]["id"] == str(alive.id)
    await settle(apps)  # and it stays so: nothing later cancels it or makes another
    assert [m.id for m in await live_meetings(apps, sid)] == [alive.id]
    view = await school.get(f"/v1/sessions/{sid}/meeting")
    assert len(view["members"]) == 2


async def test_a_withdrawal_reaches_every_live_session_of_the_group(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    first = await adult_session(school, members=3)
    group, student = first["group"], first["group"]["students"][0]
    later = (datetime.now(UTC) + timedelta(days=9)).replace(microsecond=0)
    second = await school.session(group, scheduled_start=later.isoformat())
    await school.api.put(
        f"/v1/sessions/{second['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    for s in group["students"]:
        await grant_consent(apps["api"], session=first, student_id=s["id"])
    for session in (first, second):
        await ready_to_provision(school, session)
    await settle(apps)
    as_student = {"Authorization": f"Bearer {await school.token_for(student['id'])}"}
    assert (
        await school.api.get(f"/v1/sessions/{second['id']}/meeting", headers=as_student)
    ).status_code == 200

    await school.api.post(
        f"/v1/sessions/{first['id']}/consents/{student['id']}/withdraw", headers=as_student
    )
    for session in (first, second):
        assert (
            await school.api.get(f"/v1/sessions/{session['id']}/meeting", headers=as_student)
        ).status_code == 404
    await settle(apps)
    async with AsyncSession(apps["meetings"].state.engine) as db:
        rows = (
            await db.exec(
                select(Participant.status)
                .join(Meeting, col(Meeting.id) == Participant.meeting_id)
                .where(
                    Meeting.session_id == uuid.UUID(second["id"]),
                    Participant.person_id == uuid.UUID(student["id"]),
                )
            )
        ).all()
    assert rows and set(rows) == {"revoked"}


async def test_a_guardian_withdraws_their_own_consent(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await school.session()
    minor = session["participant_ids"][0]
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    guardian = await school.user("guardian")
    await school.post(
        f"/v1/users/{minor}/guardians", {"guardian_id": guardian["id"], "relationship": "father"}
    )
    await grant_consent(apps["api"], session=session, student_id=minor)
    await grant_consent(
        apps["api"], session=session, student_id=minor, signer="guardian", signer_id=guardian["id"]
    )
    as_guardian = {"Authorization": f"Bearer {await school.token_for(guardian['id'])}"}
    answer = await school.api.post(
        f"/v1/sessions/{session['id']}/consents/{minor}/withdraw", headers=as_guardian
    )
    assert answer.status_code == 200, answer.text
    records = await school.get(f"/v1/sessions/{session['id']}/consents")
    withdrawn = {r["signer"]: r["withdrawn_at"] is not None for r in records}
    assert withdrawn == {"guardian": True, "student": False}


async def on_zoom_never_set_up(school: SchoolKit, apps: dict[str, FastAPI]) -> dict[str, Any]:
    """A session of two adult members who consented, on Zoom, which the school never set up:
    the meetings service refuses to make its meeting, for good."""
    session = await adult_session(school, members=2)
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "zoom"}, headers=school.auth
    )
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"], platform="zoom")
    return session


async def test_a_meeting_that_cannot_be_made_frees_the_session_and_says_why(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await on_zoom_never_set_up(school, apps)
    sid = session["id"]
    await ready_to_provision(school, session)
    await settle(apps)

    async def failed() -> Any:
        history = await school.get(f"/v1/sessions/{sid}/history")
        return [h for h in history if (h["kind"], h["to"]) == ("meeting", "failed")]

    [entry] = await eventually(failed)
    assert "not configured" in entry["reason"]
    assert (await school.get(f"/v1/sessions/{sid}"))["meeting"] is None
    again = await school.api.post(f"/v1/sessions/{sid}/meeting", headers=school.auth)
    assert again.status_code == 201
    history = await school.get(f"/v1/sessions/{sid}/history")
    assert [h["to"] for h in history if h["kind"] == "gate"] == ["met", "met"]


async def test_a_new_time_set_while_the_meeting_is_being_made_reaches_it(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    for student in session["group"]["students"]:
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    new_start = (datetime.now(UTC) + timedelta(days=13)).replace(microsecond=0)
    with meetings_unreachable(apps):
        await ready_to_provision(school, session)
        moved = await school.api.patch(
            f"/v1/sessions/{sid}",
            headers=school.auth,
            json={"scheduled_start": new_start.isoformat()},
        )
        assert moved.status_code == 200
    await make_due_now(apps)
    await settle(apps)
    [meeting] = await live_meetings(apps, sid)
    assert meeting.scheduled_start.replace(tzinfo=UTC) == new_start


async def test_nul_characters_in_plan_and_record_are_refused_by_field(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await adult_session(school, members=2)
    sid = session["id"]
    plan = await school.api.put(
        f"/v1/sessions/{sid}/plan",
        headers=school.auth,
        json={**COMPLETE_PLAN, "objectives": ["a\u0000b"]},
    )
    assert plan.status_code == 422 and plan.json()["errors"][0]["field"] == "objectives"
    blank = await school.api.put(
        f"/v1/sessions/{sid}/plan", headers=school.auth, json={**COMPLETE_PLAN, "topic": "   "}
    )
    assert blank.json()["plan"]["missing"] == ["topic"]
    observed = await school.api.post(
        f"/v1/sessions/{sid}/observations",
        headers=school.auth,
        json={
            "student_id": session["participant_ids"][0],
            "participation": 3,
            "respects_others": 3,
            "seriousness": 3,
            "notes": "x\u0000",
        },
    )
    assert observed.status_code == 422 and observed.json()["errors"][0]["field"] == "notes"


async def test_the_join_gate_speaks_the_members_own_language(
    school: SchoolKit, apps: dict[str, FastAPI], meetings: Any
) -> None:
    counselor = await school.user("counselor")
    english = await school.user("student", birth_date="2000-01-01", locale="en")
    other = await school.user("student", birth_date="2000-01-01")
    group = await school.post(
        "/v1/groups",
        {
            "name": "G",
            "counselor_id": counselor["id"],
            "field": "social",
            "member_ids": [english["id"], other["id"]],
        },
    )
    session = await school.session({**group, "counselor": counselor})
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    for student in (english, other):
        await grant_consent(apps["api"], session=session, student_id=student["id"])
    await ready_to_provision(school, session)
    await settle(apps)
    view = await school.get(f"/v1/sessions/{session['id']}/meeting")
    link = next(m["join_url"] for m in view["members"] if m["student_id"] == english["id"])
    path = link.split("://", 1)[1].split("/", 1)[1]
    early = await meetings.get("/" + path, headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert early.status_code == 403  # a week before the session: not open yet
    assert early.headers["content-language"] == "en"
