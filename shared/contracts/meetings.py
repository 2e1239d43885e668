"""What the api service sends the meetings service, and what it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from shared.gate import POLICY_VERSION, Signer, member_missing
from shared.stages import Provider
from shared.validation import Payload


class ConsentEvidence(Payload):
    """One consent record, as the gate needs to see it."""

    consent_id: UUID
    signer: Signer
    platform: Provider
    text_version: str
    granted: bool
    withdrawn: bool = False
    # The fallback platform the consent text named, if any: only then may the meeting move.
    fallback_platform: Provider | None = None


class ClearedParticipant(Payload):
    person_id: UUID
    name: str
    email: str | None = None
    needs_guardian: bool
    consents: list[ConsentEvidence]
    # The member's language: the join gate speaks it on the pages it shows them.
    locale: Literal["id", "en"] = "id"


class Clearance(Payload):
    """Proof that everyone to be admitted passed the ethics gate; refuses to exist otherwise."""

    session_id: UUID
    platform: Provider
    text_version: str
    policy_version: str = POLICY_VERSION
    participants: list[ClearedParticipant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _everyone_covered(self) -> Clearance:
        uncovered = []
        for p in self.participants:
            missing = member_missing(
                p.consents,
                platform=self.platform.value,
                text_version=self.text_version,
                needs_guardian=p.needs_guardian,
            )
            if missing:
                uncovered.append(f"{p.person_id} ({', '.join(m.code for m in missing)})")
        if uncovered:
            raise ValueError("participants not cleared: " + "; ".join(uncovered))
        if self.policy_version != POLICY_VERSION:
            raise ValueError(f"policy version {self.policy_version} is not {POLICY_VERSION}")
        return self


class Host(Payload):
    person_id: UUID
    name: str
    email: str | None = None


class ProvisionRequest(Payload):
    school_id: UUID
    session_id: UUID
    provider: Provider
    fallback_provider: Provider | None = None
    title: str
    scheduled_start: AwareDatetime
    duration_minutes: int = Field(gt=0, le=600)
    timezone: str
    host: Host
    clearance: Clearance

    @model_validator(mode="after")
    def _clearance_matches(self) -> ProvisionRequest:
        if self.clearance.session_id != self.session_id:
            raise ValueError("the clearance is for another session")
        if self.clearance.platform != self.provider:
            raise ValueError("the clearance covers another platform")
        return self


class JoinLink(BaseModel):
    """A member's own link: Lingkar's join gate (`/j/{token}`), never the provider's URL."""

    person_id: UUID
    join_url: str


class MeetingOut(BaseModel):
    id: UUID
    session_id: UUID
    provider: Provider
    host_url: str
    passcode: str | None = None
    scheduled_start: AwareDatetime
    duration_minutes: int
    status: str = "ready"
    join_links: list[JoinLink] = Field(default_factory=list)
    created_at: datetime


class AdmitRequest(Payload):
    """Members cleared after the meeting was made: each gets their own gated link.

    Idempotent: admitting someone already admitted returns their existing link.
    """

    clearance: Clearance


class AdmitOut(BaseModel):
    join_links: list[JoinLink]


class RevokeRequest(Payload):
    """A member's clearance ended (consent withdrawn): their link stops working at once."""

    person_id: UUID
    reason: str = Field(max_length=200)


class RescheduleRequest(Payload):
    scheduled_start: AwareDatetime
    duration_minutes: int = Field(gt=0, le=600)
    title: str


class CancelRequest(Payload):
    """Cancel the session's meetings made by these provisioning requests (their idempotency
    keys); a request named here that arrives later is refused, so no meeting outlives it."""

    reason: str = Field(max_length=1000)
    provision_keys: list[str] = Field(min_length=1, max_length=50)
