from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from services.api.sessions.plan import PlanPublic
from shared.stages import Phase, Provider, Stage
from shared.validation import Payload, check_instant, check_timezone


class SessionCreate(Payload):
    group_id: uuid.UUID
    title: str = Field(min_length=1, max_length=200, examples=["Mengelola stres menjelang ujian"])
    scheduled_start: AwareDatetime = Field(
        description="RFC 3339 with an offset", examples=["2026-12-01T09:00:00+07:00"]
    )
    duration_minutes: int = Field(ge=15, le=240, examples=[60])
    timezone: str | None = Field(
        default=None,
        description="IANA zone for display; the school's when omitted",
        examples=["Asia/Jakarta"],
    )

    _start = field_validator("scheduled_start")(check_instant)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value) if value is not None else None


class PlatformChoice(Payload):
    provider: Provider
    fallback_provider: Provider | None = None

    @model_validator(mode="after")
    def _fallback_differs(self) -> PlatformChoice:
        if self.fallback_provider == self.provider:
            raise ValueError("fallback_provider must differ from provider")
        return self


class TransitionRequest(Payload):
    to: Stage | Phase = Field(description="A stage, or a phase inside implementation")
    reason: str | None = Field(default=None, max_length=1000)


class MeetingSummary(BaseModel):
    id: uuid.UUID
    provider: Provider
    provisioned_at: datetime


class UnmetPublic(BaseModel):
    code: str
    message: str


class MemberGatePublic(BaseModel):
    student_id: uuid.UUID
    cleared: bool
    needs_guardian: bool = Field(description="Under the school's guardian-consent age")
    missing: list[UnmetPublic]


class GatePublic(BaseModel):
    """The ethics gate: `met` only when `unmet` is empty. A student sees their own line only."""

    met: bool
    unmet: list[UnmetPublic]
    members: list[MemberGatePublic]


class SessionUpdate(Payload):
    """Reschedule or rename; the provider's meeting follows and everyone is told."""

    scheduled_start: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=15, le=240)
    title: str | None = Field(default=None, min_length=1, max_length=200)

    _start = field_validator("scheduled_start")(check_instant)


class CancelRequest(Payload):
    reason: str = Field(min_length=1, max_length=1000, examples=["Ujian susulan"])


class WithdrawRequest(Payload):
    reason: str | None = Field(default=None, max_length=1000)


class SessionPublic(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    counselor_id: uuid.UUID
    title: str
    stage: Stage
    phase: Phase | None
    platform: Provider | None
    fallback_platform: Provider | None
    scheduled_start: datetime
    duration_minutes: int
    timezone: str
    participant_ids: list[uuid.UUID]
    plan: PlanPublic
    gate: GatePublic
    meeting: MeetingSummary | None
    created_at: datetime


class SessionPage(BaseModel):
    items: list[SessionPublic]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    kind: str = Field(description="stage, phase, gate, meeting, schedule or refusal")
    actor: str
    actor_role: str
    from_state: str | None = Field(serialization_alias="from")
    to_state: str = Field(serialization_alias="to")
    reason: str | None
    at: datetime


class MeetingMemberLink(BaseModel):
    student_id: uuid.UUID
    join_url: str


class MeetingView(BaseModel):
    """The caller's view of the meeting: staff see the host link, a member only their own."""

    provider: Provider
    host_url: str | None = None
    passcode: str | None = None
    join_url: str | None = None
    members: list[MeetingMemberLink] | None = None


class SessionFilters(BaseModel):
    group_id: uuid.UUID | None = None
    stage: Stage | None = None
    starts_after: AwareDatetime | None = None
    starts_before: AwareDatetime | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)

    _range = field_validator("starts_after", "starts_before")(check_instant)


MAX_DURATION = timedelta(minutes=240)
