"""The meeting follows the gate.

`reconcile` is called after anything that can change the gate (a consent, a withdrawal, the
plan, the attestation, a stage change). It asks for the meeting the first time the gate is met
in preparation, admits members cleared later, and revokes the link of anyone no longer cleared.
Every call to the meetings service leaves through the outbox, committed with the change that
caused it; the relay's handlers below send them and record the answers.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import Sent, handles
from services.api.sessions import notify
from services.api.sessions.gate import MemberGate, SessionGate, evaluate
from services.api.sessions.models import GuidanceSession, SessionEvent, SessionParticipant
from services.api.users.models import User
from shared.contracts.meetings import (
    AdmitOut,
    AdmitRequest,
    Clearance,
    ClearedParticipant,
    ConsentEvidence,
    Host,
    JoinLink,
    MeetingOut,
    ProvisionRequest,
    RevokeRequest,
)
from shared.contracts.notifications import Event
from shared.stages import Provider, Stage
from shared.timeutil import as_utc, utcnow

PROVISION = "meetings.provision"
ADMIT = "meetings.admit"
REVOKE = "meetings.revoke"
LIVE_STAGES = (Stage.preparation, Stage.implementation, Stage.observation)


def clearance_for(
    session: GuidanceSession, members: list[MemberGate], text_version: str
) -> Clearance:
    assert session.platform is not None
    return Clearance(
        session_id=session.id,
        platform=Provider(session.platform),
        text_version=text_version,
        participants=[
            ClearedParticipant(
                person_id=m.student.id,
                name=m.student.name,
                email=m.student.email,
                needs_guardian=m.needs_guardian,
                consents=[
                    ConsentEvidence(
                        consent_id=c.consent_id,
                        signer=c.signer,
                        platform=Provider(c.platform),
                        text_version=c.text_version,
                        granted=c.granted,
                        withdrawn=c.withdrawn,
                    )
                    for c in m.consents
                ],
            )
            for m in members
        ],
    )


async def reconcile(
    *, db: AsyncSession, session: GuidanceSession, gate: SessionGate | None = None
) -> SessionGate:
    gate = gate or await evaluate(db=db, session=session)
    if session.stage not in LIVE_STAGES:
        return gate
    if session.meeting_requested_at is None:
        if session.stage == Stage.preparation and gate.met:
            await request_meeting(db=db, session=session, gate=gate, actor="system")
        return gate
    participants = await _participants(db, session)
    cleared = {m.student.id: m for m in gate.cleared}
    for student_id, participant in participants.items():
        holds_or_awaits_link = (
            participant.join_url or participant.admitted_at or participant.admission_requested_at
        )
        if student_id not in cleared and holds_or_awaits_link:
            await _revoke(db, session, participant)
    if session.meeting_id is not None:
        waiting = [
            m for sid, m in cleared.items() if participants[sid].admission_requested_at is None
        ]
        for member in waiting:
            await _admit(db, session, member, participants[member.student.id], gate.text_version)
    return gate


async def request_meeting(
    *, db: AsyncSession, session: GuidanceSession, gate: SessionGate, actor: str
) -> None:
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None and session.platform is not None
    participants = await _participants(db, session)
    request = ProvisionRequest(
        school_id=session.school_id,
        session_id=session.id,
        provider=Provider(session.platform),
        fallback_provider=Provider(session.fallback_platform)
        if session.fallback_platform
        else None,
        title=session.title,
        scheduled_start=as_utc(session.scheduled_start),
        duration_minutes=session.duration_minutes,
        timezone=session.timezone,
        host=Host(person_id=counselor.id, name=counselor.name, email=counselor.email),
        clearance=clearance_for(session, gate.cleared, gate.text_version),
    )
    now = utcnow()
    session.meeting_requested_at = now
    for member in gate.cleared:
        participants[member.student.id].admission_requested_at = now
        db.add(participants[member.student.id])
    db.add(session)
    db.add(
        SessionEvent(
            school_id=session.school_id,
            session_id=session.id,
            kind="gate",
            actor=actor,
            actor_role="system" if actor == "system" else "staff",
            from_state=None,
            to_state="met",
            reason=f"{len(gate.cleared)} members cleared; meeting requested",
        )
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=PROVISION,
        idempotency_key=f"provision:{session.id}:{now.isoformat()}",
        payload=request.model_dump(mode="json"),
    )


async def _participants(
    db: AsyncSession, session: GuidanceSession
) -> dict[uuid.UUID, SessionParticipant]:
    rows = await db.exec(
        select(SessionParticipant).where(SessionParticipant.session_id == session.id)
    )
    return {p.student_id: p for p in rows.all()}


def _clearance_key(member: MemberGate) -> str:
    ids = ",".join(sorted(str(c.consent_id) for c in member.consents if c.granted))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


async def _admit(
    db: AsyncSession,
    session: GuidanceSession,
    member: MemberGate,
    participant: SessionParticipant,
    text_version: str,
) -> None:
    participant.admission_requested_at = utcnow()
    db.add(participant)
    request = AdmitRequest(clearance=clearance_for(session, [member], text_version))
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=ADMIT,
        idempotency_key=f"admit:{session.meeting_id}:{member.student.id}:{_clearance_key(member)}",
        payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
    )


async def _revoke(
    db: AsyncSession, session: GuidanceSession, participant: SessionParticipant
) -> None:
    """The link stops working now: ours is gone at once, the meetings service is told."""
    participant.join_url = None
    participant.admitted_at = None
    participant.admission_requested_at = None
    db.add(participant)
    db.add(
        SessionEvent(
            school_id=session.school_id,
            session_id=session.id,
            kind="meeting",
            actor="system",
            actor_role="system",
            from_state="admitted",
            to_state="revoked",
            reason=f"member {participant.student_id} no longer cleared",
        )
    )
    if session.meeting_id is None:
        return
    request = RevokeRequest(person_id=participant.student_id, reason="no longer cleared")
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=REVOKE,
        idempotency_key=f"revoke:{session.meeting_id}:{participant.student_id}:{utcnow().isoformat()}",
        payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
    )


async def _store_links(
    db: AsyncSession, session: GuidanceSession, links: list[JoinLink], *, first: bool
) -> None:
    """Keep the links of members who are still cleared; then reconcile whatever changed since."""
    gate = await evaluate(db=db, session=session)
    cleared = {m.student.id for m in gate.cleared}
    participants = await _participants(db, session)
    admitted = []
    for link in links:
        participant = participants.get(link.person_id)
        if participant is None:
            continue
        if link.person_id not in cleared:
            await _revoke(db, session, participant)  # withdrawn while the call was in flight
            continue
        participant.join_url, participant.admitted_at = link.join_url, utcnow()
        db.add(participant)
        admitted.append(link)
        db.add(
            SessionEvent(
                school_id=session.school_id,
                session_id=session.id,
                kind="meeting",
                actor="system",
                actor_role="system",
                from_state=None,
                to_state="link_issued",
                reason=f"join link issued to member {link.person_id}",
            )
        )
    await db.flush()
    await _notify_links(db, session, admitted, first=first, gate=gate)
    await reconcile(db=db, session=session, gate=gate)


async def _notify_links(
    db: AsyncSession,
    session: GuidanceSession,
    links: list[JoinLink],
    *,
    first: bool,
    gate: SessionGate,
) -> None:
    students = {m.student.id: m.student for m in gate.members}
    for link in links:
        await notify.send(
            db=db,
            session=session,
            event=Event.meeting_provisioned_member,
            to=[students[link.person_id]],
            key=f"member-link:{session.meeting_id}:{link.person_id}:{link.join_url[-12:]}",
            data=notify.session_data(session, join_url=link.join_url),
        )
    if first:
        counselor = await db.get(User, session.counselor_id)
        assert counselor is not None
        await notify.send(
            db=db,
            session=session,
            event=Event.meeting_provisioned_host,
            to=[counselor],
            key=f"meeting-provisioned-host:{session.meeting_id}",
            data=notify.session_data(
                session,
                host_url=session.meeting_host_url,
                passcode=session.meeting_passcode,
                cleared_members=[students[link.person_id].name for link in links],
            ),
        )


async def _session_of(db: AsyncSession, session_id: Any) -> GuidanceSession | None:
    return await db.get(GuidanceSession, uuid.UUID(str(session_id)), with_for_update=True)


@handles(PROVISION)
async def send_provision(message: OutboxMessage, app_state: Any) -> Sent:
    url = meetings_url(app_state, "/internal/v1/meetings")
    response = await app_state.service_client.post(
        "meetings", url, json=message.payload, idempotency_key=message.idempotency_key
    )
    meeting = MeetingOut.model_validate(response.json())

    async def record(db: AsyncSession) -> None:
        session = await _session_of(db, meeting.session_id)
        if session is None:
            return
        if session.stage not in LIVE_STAGES or session.meeting_requested_at is None:
            from services.api.sessions.changes import cancel_meetings

            await cancel_meetings(db=db, session=session, reason="no longer wanted", force=True)
            return
        session.meeting_id, session.meeting_provider = meeting.id, meeting.provider.value
        session.meeting_host_url, session.meeting_passcode = meeting.host_url, meeting.passcode
        session.meeting_provisioned_at = utcnow()
        db.add(session)
        db.add(
            SessionEvent(
                school_id=session.school_id,
                session_id=session.id,
                kind="meeting",
                actor="system",
                actor_role="system",
                from_state=None,
                to_state="provisioned",
                reason=f"{meeting.provider.value} meeting ready",
            )
        )
        await _store_links(db, session, meeting.join_links, first=True)

    return Sent(record)


@handles(ADMIT)
async def send_admit(message: OutboxMessage, app_state: Any) -> Sent:
    payload = dict(message.payload)
    meeting_id = payload.pop("meeting_id")
    url = meetings_url(app_state, f"/internal/v1/meetings/{meeting_id}/participants")
    response = await app_state.service_client.post(
        "meetings", url, json=payload, idempotency_key=message.idempotency_key
    )
    admitted = AdmitOut.model_validate(response.json())
    session_id = payload["clearance"]["session_id"]

    async def record(db: AsyncSession) -> None:
        session = await _session_of(db, session_id)
        if session is not None and str(session.meeting_id) == meeting_id:
            await _store_links(db, session, admitted.join_links, first=False)

    return Sent(record)


@handles(REVOKE)
async def send_revoke(message: OutboxMessage, app_state: Any) -> Sent:
    payload = dict(message.payload)
    meeting_id = payload.pop("meeting_id")
    url = meetings_url(app_state, f"/internal/v1/meetings/{meeting_id}/revocations")
    await app_state.service_client.post(
        "meetings", url, json=payload, idempotency_key=message.idempotency_key
    )
    return Sent(_nothing)


async def _nothing(_: AsyncSession) -> None:
    """The api already stopped showing the link; nothing more to keep."""


@handles(notify.NOTIFY)
async def send_notification(message: OutboxMessage, app_state: Any) -> Sent:
    url = app_state.settings.internal_url("notifications") + "/internal/v1/notifications"
    await app_state.service_client.post(
        "notifications", url, json=message.payload, idempotency_key=message.idempotency_key
    )
    return Sent(_nothing)


def meetings_url(app_state: Any, path: str) -> str:
    return str(app_state.settings.internal_url("meetings")) + path
