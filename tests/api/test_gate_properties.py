"""Property: whatever the order of actions, no link without clearance, no start without the gate.

Hypothesis draws sequences of what counselors, students and guardians do (consent, decline,
withdraw, plan, attest, change platform, move stages, ask for the meeting, let the background
relay run) and checks after every step that
- every member holding a join link is cleared by the gate at that moment, and
- a move into implementation succeeds only when the gate was met just before it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_provisioning_races import settle
from tests.factories import COMPLETE_PLAN, SchoolKit, grant_consent

STUDENTS = 3  # two adults and a minor with a guardian on file

action = st.one_of(
    st.tuples(
        st.just("consent"),
        st.integers(0, STUDENTS - 1),
        st.sampled_from(["student", "guardian"]),
        st.sampled_from(["granted", "declined"]),
        st.sampled_from(["jitsi", "zoom"]),
    ),
    st.tuples(st.just("withdraw"), st.integers(0, STUDENTS - 1)),
    st.tuples(st.just("plan"), st.booleans()),
    st.tuples(st.just("attest")),
    st.tuples(st.just("platform"), st.sampled_from(["jitsi", "zoom"])),
    st.tuples(
        st.just("move"),
        st.sampled_from(["preparation", "pre_preparation", "implementation", "cancelled"]),
    ),
    st.tuples(st.just("provision")),
    st.tuples(st.just("settle")),
)


async def new_session(school: SchoolKit) -> dict[str, Any]:
    counselor = await school.user("counselor")
    students = [await school.user("student", birth_date="2000-01-01") for _ in range(2)]
    minor = await school.user("student", birth_date="2012-06-01")
    guardian = await school.user("guardian")
    await school.post(
        f"/v1/users/{minor['id']}/guardians",
        {"guardian_id": guardian["id"], "relationship": "mother"},
    )
    group = await school.post(
        "/v1/groups",
        {
            "name": "Sifat",
            "counselor_id": counselor["id"],
            "field": "social",
            "member_ids": [s["id"] for s in [*students, minor]],
        },
    )
    start = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    session = await school.post(
        "/v1/sessions",
        {
            "group_id": group["id"],
            "title": "Sifat",
            "scheduled_start": start.isoformat(),
            "duration_minutes": 60,
        },
    )
    session["students"], session["guardian"] = [*students, minor], guardian
    return session


async def check_invariants(school: SchoolKit, sid: str, *, settled: bool = False) -> set[str]:
    """Safety always: holders are cleared. Once settled, liveness too: the cleared hold links."""
    session = await school.get(f"/v1/sessions/{sid}")
    cleared = {m["student_id"] for m in session["gate"]["members"] if m["cleared"]}
    view = await school.api.get(f"/v1/sessions/{sid}/meeting", headers=school.auth)
    holders: set[str] = set()
    if view.status_code == 200:
        holders = {m["student_id"] for m in view.json()["members"]}
        assert holders <= cleared, f"links without clearance: {holders - cleared}"
        if settled and session["stage"] in ("preparation", "implementation"):
            assert holders == cleared, f"cleared but no link: {cleared - holders}"
    return holders


async def perform(
    school: SchoolKit, apps: dict[str, FastAPI], session: dict[str, Any], step: tuple[Any, ...]
) -> None:
    sid, kind = session["id"], step[0]
    if kind == "consent":
        _, index, signer, decision, platform = step
        student = session["students"][index]
        signer_id = session["guardian"]["id"] if signer == "guardian" else student["id"]
        if signer == "guardian" and index != STUDENTS - 1:
            return  # only the minor has a guardian on file
        await grant_consent(
            apps["api"],
            session=session,
            student_id=student["id"],
            signer=signer,
            signer_id=signer_id,
            decision=decision,
            platform=platform,
        )
    elif kind == "withdraw":
        student = session["students"][step[1]]
        await school.api.post(
            f"/v1/sessions/{sid}/consents/{student['id']}/withdraw", headers=school.auth
        )
    elif kind == "plan":
        body = COMPLETE_PLAN if step[1] else {"topic": "Belum lengkap"}
        await school.api.put(f"/v1/sessions/{sid}/plan", json=body, headers=school.auth)
    elif kind == "attest":
        await school.api.post(f"/v1/sessions/{sid}/attestation", headers=school.auth)
    elif kind == "platform":
        await school.api.put(
            f"/v1/sessions/{sid}/platform", json={"provider": step[1]}, headers=school.auth
        )
    elif kind == "move":
        before = await school.get(f"/v1/sessions/{sid}")
        moved = await school.api.post(
            f"/v1/sessions/{sid}/transitions",
            headers=school.auth,
            json={"to": step[1], "reason": "uji"},
        )
        if moved.status_code == 200 and step[1] == "implementation":
            assert before["gate"]["met"], "implementation reached without the gate"
        assert moved.status_code in (200, 409), moved.text
    elif kind == "provision":
        answer = await school.api.post(f"/v1/sessions/{sid}/meeting", headers=school.auth)
        assert answer.status_code in (201, 409), answer.text
    else:
        await settle(apps)
        await check_invariants(school, sid, settled=True)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(action, min_size=3, max_size=14))
async def test_no_sequence_gives_a_link_without_clearance_or_starts_without_the_gate(
    school: SchoolKit, apps: dict[str, FastAPI], steps: list[tuple[Any, ...]]
) -> None:
    session = await new_session(school)
    for step in steps:
        await perform(school, apps, session, step)
        await check_invariants(school, session["id"])
    await settle(apps)
    await check_invariants(school, session["id"], settled=True)


EVERYONE_CLEARED = [
    ("consent", 0, "student", "granted", "jitsi"),
    ("consent", 1, "student", "granted", "jitsi"),
    ("consent", 2, "student", "granted", "jitsi"),
    ("consent", 2, "guardian", "granted", "jitsi"),
    ("platform", "jitsi"),
    ("plan", True),
    ("attest",),
]


@pytest.mark.parametrize(
    "tail",
    [
        [
            ("move", "preparation"),
            ("settle",),
            ("withdraw", 0),
            ("settle",),
            ("move", "implementation"),
        ],
        [
            ("move", "preparation"),
            ("withdraw", 2),
            ("settle",),
            ("consent", 2, "student", "granted", "jitsi"),
            ("settle",),
        ],
        [
            ("move", "preparation"),
            ("settle",),
            ("move", "pre_preparation"),
            ("platform", "zoom"),
            ("settle",),
        ],
    ],
    ids=["withdraw-after-links", "withdraw-in-flight-then-again", "platform-change"],
)
async def test_the_interesting_paths_issue_and_take_back_links(
    school: SchoolKit, apps: dict[str, FastAPI], tail: list[tuple[Any, ...]]
) -> None:
    """The paths the random search must not miss, each proven to issue links at some point."""
    session = await new_session(school)
    most = 0
    for step in [*EVERYONE_CLEARED, *tail]:
        await perform(school, apps, session, step)
        most = max(most, len(await check_invariants(school, session["id"])))
    await settle(apps)
    await check_invariants(school, session["id"], settled=True)
    assert most >= 2, "links were issued along the way"
