"""The one stage machine of a guidance session, as data.

Each allowed move lists its requirements; `refusals` checks them all against a snapshot of the
session (`SessionFacts`) and returns every unmet one, never just the first. The api service
gathers the facts; this module decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.problems import Unmet


class Stage(StrEnum):
    pre_preparation = "pre_preparation"
    preparation = "preparation"
    implementation = "implementation"
    observation = "observation"
    termination = "termination"
    completed = "completed"
    cancelled = "cancelled"


class Phase(StrEnum):
    formation = "formation"
    transition = "transition"
    activity = "activity"
    conclusion = "conclusion"


class Provider(StrEnum):
    zoom = "zoom"
    google_meet = "google_meet"
    jitsi = "jitsi"


TERMINAL = frozenset({Stage.completed, Stage.cancelled})
PHASE_ORDER = list(Phase)
# Members may enter the meeting this long before the scheduled start.
START_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionFacts:
    """What the rules look at; the api service fills it from its tables."""

    stage: Stage
    platform: Provider | None
    has_leader: bool
    member_count: int
    min_members: int
    max_members: int
    plan_complete: bool
    attested: bool
    gate_met: bool
    meeting_provisioned: bool
    evaluation_count: int
    scheduled_start: datetime
    now: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Requirement:
    code: str
    message: str
    holds: Callable[[SessionFacts], bool]

    def unmet(self) -> Unmet:
        return Unmet(self.code, self.message)


PLATFORM_CHOSEN = Requirement(
    "platform_not_chosen",
    "Choose the meeting platform (Zoom, Google Meet or Jitsi).",
    lambda f: f.platform is not None,
)
HAS_LEADER = Requirement(
    "no_leader", "The group needs a counselor as its leader.", lambda f: f.has_leader
)
GROUP_SIZE = Requirement(
    "group_size_out_of_bounds",
    "The group must have between the school's minimum and maximum number of members.",
    lambda f: f.min_members <= f.member_count <= f.max_members,
)
PLAN_COMPLETE = Requirement(
    "plan_incomplete", "Complete the service plan (RPL).", lambda f: f.plan_complete
)
ATTESTED = Requirement(
    "attestation_missing",
    "The counselor must attest that the code of ethics and the method were explained.",
    lambda f: f.attested,
)
GATE_MET = Requirement(
    "gate_not_met",
    "Not enough members have given the consent the ethics gate asks for.",
    lambda f: f.gate_met,
)
MEETING_PROVISIONED = Requirement(
    "meeting_not_provisioned",
    "The meeting has not been provisioned yet.",
    lambda f: f.meeting_provisioned,
)
START_WINDOW_OPEN = Requirement(
    "too_early",
    f"The session can start at most {int(START_WINDOW.total_seconds() // 60)} minutes "
    "before its scheduled time.",
    lambda f: f.now >= f.scheduled_start - START_WINDOW,
)
MEETING_STARTED = Requirement(
    "meeting_not_started",
    "The meeting has not reached its scheduled start yet.",
    lambda f: f.now >= f.scheduled_start,
)
EVALUATION_RECORDED = Requirement(
    "evaluation_missing",
    "Record at least one member's evaluation (UCA) before completing.",
    lambda f: f.evaluation_count > 0,
)
REASON_GIVEN = Requirement(
    "reason_missing",
    "Give a reason for this change.",
    lambda f: bool(f.reason and f.reason.strip()),
)

MOVES: dict[tuple[Stage, Stage], tuple[Requirement, ...]] = {
    (Stage.pre_preparation, Stage.preparation): (PLATFORM_CHOSEN, HAS_LEADER, GROUP_SIZE),
    (Stage.preparation, Stage.implementation): (
        PLAN_COMPLETE,
        ATTESTED,
        GATE_MET,
        MEETING_PROVISIONED,
        START_WINDOW_OPEN,
    ),
    (Stage.implementation, Stage.observation): (MEETING_STARTED,),
    (Stage.observation, Stage.termination): (),
    (Stage.termination, Stage.completed): (EVALUATION_RECORDED,),
    # Backwards, where it makes sense: change the platform (voids consent and the meeting).
    (Stage.preparation, Stage.pre_preparation): (REASON_GIVEN,),
    **{(stage, Stage.cancelled): (REASON_GIVEN,) for stage in Stage if stage not in TERMINAL},
}


def refusals(facts: SessionFacts, to: Stage) -> list[Unmet]:
    """Every requirement the move from `facts.stage` to `to` does not meet; empty when allowed."""
    if facts.stage == to:
        return [Unmet("already_in_stage", f"The session is already in stage {to.value}.")]
    requirements = MOVES.get((facts.stage, to))
    if requirements is None:
        return [
            Unmet(
                "move_not_allowed",
                f"A session cannot move from {facts.stage.value} to {to.value}.",
            )
        ]
    return [r.unmet() for r in requirements if not r.holds(facts)]


def phase_refusals(stage: Stage, current: Phase | None, to: Phase) -> list[Unmet]:
    """Phases run forward, one at a time or skipping ahead, only inside implementation."""
    if stage != Stage.implementation:
        return [Unmet("not_in_implementation", "Phases are tracked only during implementation.")]
    if current is not None and PHASE_ORDER.index(to) <= PHASE_ORDER.index(current):
        return [
            Unmet("phase_backwards", f"The phase {to.value} does not come after {current.value}.")
        ]
    return []
