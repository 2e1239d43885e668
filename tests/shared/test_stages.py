"""Every requirement of every move, each failing on its own, and refusals listing everything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.stages import (
    MOVES,
    START_WINDOW,
    TERMINAL,
    Phase,
    Provider,
    SessionFacts,
    Stage,
    phase_refusals,
    refusals,
)

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def facts_meeting_every_requirement(stage: Stage) -> SessionFacts:
    return SessionFacts(
        stage=stage,
        platform=Provider.jitsi,
        has_leader=True,
        member_count=4,
        min_members=2,
        max_members=10,
        plan_complete=True,
        attested=True,
        gate_met=True,
        meeting_provisioned=True,
        evaluation_count=1,
        scheduled_start=START,
        now=START + timedelta(minutes=1),
        reason="alasan",
    )


# What breaks each requirement, by its code.
BREAK = {
    "platform_not_chosen": {"platform": None},
    "no_leader": {"has_leader": False},
    "group_size_out_of_bounds": {"member_count": 1},
    "plan_incomplete": {"plan_complete": False},
    "attestation_missing": {"attested": False},
    "gate_not_met": {"gate_met": False},
    "meeting_not_provisioned": {"meeting_provisioned": False},
    "too_early": {"now": START - START_WINDOW - timedelta(seconds=1)},
    "meeting_not_started": {"now": START - timedelta(seconds=1)},
    "evaluation_missing": {"evaluation_count": 0},
    "reason_missing": {"reason": "  "},
}

CASES = [
    (move, requirement.code) for move, requirements in MOVES.items() for requirement in requirements
]


@pytest.mark.parametrize(("move", "code"), CASES, ids=[f"{m[0]}->{m[1]}:{c}" for m, c in CASES])
def test_each_requirement_alone_refuses_its_move(move: tuple[Stage, Stage], code: str) -> None:
    source, target = move
    good = facts_meeting_every_requirement(source)
    assert refusals(good, target) == [], "with every requirement met the move is allowed"
    broken = replace(good, **BREAK[code])  # type: ignore[arg-type]
    assert [u.code for u in refusals(broken, target)] == [code]


def test_every_break_is_covered() -> None:
    used = {requirement.code for requirements in MOVES.values() for requirement in requirements}
    assert used == set(BREAK)


def test_a_refusal_lists_every_unmet_requirement_at_once() -> None:
    facts = replace(
        facts_meeting_every_requirement(Stage.preparation),
        plan_complete=False,
        attested=False,
        gate_met=False,
        meeting_provisioned=False,
        now=START - timedelta(days=2),
    )
    codes = [u.code for u in refusals(facts, Stage.implementation)]
    assert codes == [
        "plan_incomplete",
        "attestation_missing",
        "gate_not_met",
        "meeting_not_provisioned",
        "too_early",
    ]
    assert all(u.message for u in refusals(facts, Stage.implementation))


def test_the_start_window_opens_fifteen_minutes_before() -> None:
    facts = facts_meeting_every_requirement(Stage.preparation)
    assert refusals(replace(facts, now=START - START_WINDOW), Stage.implementation) == []


@pytest.mark.parametrize("group_size", [1, 11])
def test_a_group_outside_the_bounds_cannot_leave_pre_preparation(group_size: int) -> None:
    facts = replace(facts_meeting_every_requirement(Stage.pre_preparation), member_count=group_size)
    assert [u.code for u in refusals(facts, Stage.preparation)] == ["group_size_out_of_bounds"]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (Stage.pre_preparation, Stage.implementation),
        (Stage.preparation, Stage.completed),
        (Stage.implementation, Stage.preparation),
        (Stage.observation, Stage.pre_preparation),
        (Stage.completed, Stage.cancelled),
        (Stage.cancelled, Stage.preparation),
    ],
)
def test_moves_that_make_no_sense_are_refused(source: Stage, target: Stage) -> None:
    [refusal] = refusals(facts_meeting_every_requirement(source), target)
    assert refusal.code == "move_not_allowed"


@pytest.mark.parametrize("stage", [s for s in Stage if s not in TERMINAL])
def test_any_stage_before_completion_can_be_cancelled_with_a_reason(stage: Stage) -> None:
    facts = facts_meeting_every_requirement(stage)
    assert refusals(facts, Stage.cancelled) == []
    assert [u.code for u in refusals(replace(facts, reason=None), Stage.cancelled)] == [
        "reason_missing"
    ]


def test_staying_in_the_same_stage_is_not_a_move() -> None:
    [refusal] = refusals(facts_meeting_every_requirement(Stage.observation), Stage.observation)
    assert refusal.code == "already_in_stage"


def test_phases_run_forward_inside_implementation_only() -> None:
    assert phase_refusals(Stage.implementation, Phase.formation, Phase.transition) == []
    assert phase_refusals(Stage.implementation, Phase.formation, Phase.conclusion) == []
    assert [
        u.code for u in phase_refusals(Stage.implementation, Phase.activity, Phase.transition)
    ] == ["phase_backwards"]
    assert [u.code for u in phase_refusals(Stage.preparation, None, Phase.formation)] == [
        "not_in_implementation"
    ]
