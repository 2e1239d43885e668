"""The meeting follows the gate.

`reconcile` runs after anything that can change the gate (a consent, a withdrawal, the plan,
the attestation, a guardian, a new schedule, a stage change). It asks for the meeting the first
time the gate is met in preparation, admits members cleared later, and revokes the link of
anyone no longer cleared. Each call to the meetings service leaves through the outbox with the
change that caused it (`calls.py` sends them); the answers are recorded here.

Asking for the meeting is a compare-and-set on the session row, so two requests completing the
gate at once ask once. The request's idempotency key is kept on the session: an answer to any
other request is stale, and its meeting is cancelled rather than shown.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.outbox import service as outbox
from services.api.sessions import history, link_notices, reminders
from services.api.sessions.gate import MemberGate, SessionGate, evaluate
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import User
from shared.contracts.meetings import (
    AdmitRequest,
    CancelRequest,
    Clearance,
    ClearedParticipant,
    ConsentEvidence,
    Host,
    JoinLink,
    MeetingOut,
    ProvisionRequest,
    RescheduleRequest,
    RevokeRequest,
)
from shared.stages import Provider, Stage
from shared.timeutil import as_utc, utcnow

PROVISION = "meetings.provision"
ADMIT = "meetings.admit"
REVOKE = "meetings.revoke"
RESCHEDULE = "meetings.reschedule"
CANCEL = "meetings.cancel"
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
                locale="en" if m.student.locale == "en" else "id",
                consents=[
                    ConsentEvidence(
                        consent_id=c.consent_id,
                        signer=c.signer,
                        platform=Provider(c.platform),
                        text_version=c.text_version,
                        granted=c.granted,
                        withdrawn=c.withdrawn,
                        fallback_platform=Provider(c.fallback_platform)
                        if c.fallback_platform
                        else None,
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
            await request_meeting(db=db, session=session, gate=gate, by=None)
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
        for student_id, member in cleared.items():
            if participants[student_id].admission_requested_at is None:
                await _admit(db, session, member, participants[student_id], gate.text_version)
    return gate


async def request_meeting(
    *, db: AsyncSession, session: GuidanceSession, gate: SessionGate, by: Principal | None
) -> bool:
    """Ask for the meeting once; False when another request already asked."""
    key, now = f"provision:{session.id}:{uuid.uuid4().hex}", utcnow()
    claimed = await db.exec(
        update(GuidanceSession)
        .where(
            col(GuidanceSession.id) == session.id,
            col(GuidanceSession.meeting_requested_at).is_(None),
        )
        .values(meeting_requested_at=now, provision_key=key)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    session.meeting_requested_at, session.provision_key = now, key
    participants = await _participants(db, session)
    for member in gate.cleared:
        participant = participants[member.student.id]
        participant.admission_requested_at = now
        participant.admissions += 1
        db.add(participant)
    history.record(
        db,
        session,
        kind="gate",
        to="met",
        by=by,
        reason=f"{len(gate.cleared)} members cleared; meeting requested",
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=PROVISION,
        idempotency_key=key,
        payload=(await _provision_request(db, session, gate)).model_dump(mode="json"),
    )
    return True


async def _provision_request(
    db: AsyncSession, session: GuidanceSession, gate: SessionGate
) -> ProvisionRequest:
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None and session.platform is not None
    return ProvisionRequest(
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
    participant.admissions += 1
    db.add(participant)
    request = AdmitRequest(clearance=clearance_for(session, [member], text_version))
    key = (
        f"admit:{session.meeting_id}:{member.student.id}:{participant.admissions}:"
        f"{_clearance_key(member)}"
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=ADMIT,
        idempotency_key=key,
        payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
    )


async def _revoke(
    db: AsyncSession, session: GuidanceSession, participant: SessionParticipant
) -> None:
    """The link stops working now: ours is gone at once, the meetings service is told."""
    if participant.join_url is not None:
        await reminders.withdrawn(db=db, session=session, participant=participant)
    participant.join_url = participant.admitted_at = participant.admission_requested_at = None
    db.add(participant)
    history.record(
        db,
        session,
        kind="meeting",
        from_state="admitted",
        to="revoked",
        reason=f"member {participant.student_id} no longer cleared",
    )
    if session.meeting_id is None:
        return  # nothing made yet; a stale answer is refused when it arrives (store_links)
    request = RevokeRequest(person_id=participant.student_id, reason="no longer cleared")
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=REVOKE,
        idempotency_key=f"revoke:{session.meeting_id}:{participant.student_id}:"
        f"{participant.admissions}",
        payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
    )


async def meeting_made(
    *, db: AsyncSession, session: GuidanceSession, meeting: MeetingOut, key: str
) -> None:
    """The provider's answer to a PROVISION; only the session's current request counts."""
    if session.provision_key != key or session.stage not in LIVE_STAGES:
        await cancel_meetings(db=db, session=session, reason="no longer wanted", keys=[key])
        return
    session.meeting_id, session.meeting_provider = meeting.id, meeting.provider.value
    session.meeting_host_url, session.meeting_passcode = meeting.host_url, meeting.passcode
    session.meeting_provisioned_at = utcnow()
    db.add(session)
    history.record(
        db,
        session,
        kind="meeting",
        to="provisioned",
        reason=f"{meeting.provider.value} meeting ready",
    )
    if meeting.provider.value != session.platform:
        # The chosen provider was down; every member's consent named this fallback.
        history.record(
            db,
            session,
            kind="meeting",
            from_state=session.platform,
            to=meeting.provider.value,
            reason="the chosen platform was unavailable; moved to the fallback",
        )
    if (as_utc(meeting.scheduled_start), meeting.duration_minutes) != (
        as_utc(session.scheduled_start),
        session.duration_minutes,
    ):
        await request_reschedule(db=db, session=session, because=key)  # moved while in flight
    await store_links(db=db, session=session, links=meeting.join_links, first=True)


async def store_links(
    *, db: AsyncSession, session: GuidanceSession, links: list[JoinLink], first: bool
) -> None:
    """Keep the links of members still cleared; then reconcile whatever changed since."""
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
        history.record(
            db,
            session,
            kind="meeting",
            to="link_issued",
            reason=f"join link issued to member {link.person_id}",
        )
    await db.flush()
    await link_notices.tell(db, session, admitted, first=first, participants=participants)
    await reconcile(db=db, session=session, gate=gate)


async def request_reschedule(*, db: AsyncSession, session: GuidanceSession, because: str) -> None:
    """Tell the meetings service the session's time now; a meeting still being made is
    corrected when its answer arrives (`meeting_made`)."""
    if session.meeting_id is None:
        return
    request = RescheduleRequest(
        scheduled_start=as_utc(session.scheduled_start),
        duration_minutes=session.duration_minutes,
        title=session.title,
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=RESCHEDULE,
        idempotency_key=f"reschedule:{session.id}:{because}",
        payload={"meeting_id": str(session.meeting_id), **request.model_dump(mode="json")},
    )


async def cancel_meetings(
    *, db: AsyncSession, session: GuidanceSession, reason: str, keys: list[str] | None = None
) -> None:
    """Delete meetings at the provider and forget every link to them.

    Without `keys`: the session's current meeting (made or still being made). With `keys`:
    exactly the meetings those provisioning requests made or will make.
    """
    current = session.provision_key
    keys = keys or ([current] if current else [])
    if not keys:
        return
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        session_id=session.id,
        kind=CANCEL,
        idempotency_key=f"cancel:{session.id}:{','.join(sorted(keys))}",
        payload={
            "session_id": str(session.id),
            **CancelRequest(reason=reason, provision_keys=keys).model_dump(),
        },
    )
    history.record(db, session, kind="meeting", to="cancelled", reason=reason)
    if current not in keys:
        return
    session.meeting_requested_at = session.meeting_id = session.meeting_provisioned_at = None
    session.meeting_host_url = session.meeting_passcode = session.meeting_provider = None
    session.provision_key = None
    db.add(session)
    for participant in (await _participants(db, session)).values():
        participant.join_url = participant.admitted_at = participant.admission_requested_at = None
        db.add(participant)


async def provision_failed(
    *, db: AsyncSession, session: GuidanceSession, key: str, reason: str
) -> None:
    """A PROVISION given up on: the session may ask again, and the record says why."""
    if session.provision_key != key:
        return
    session.meeting_requested_at = session.provision_key = None
    db.add(session)
    for participant in (await _participants(db, session)).values():
        participant.admission_requested_at = None
        db.add(participant)
    history.record(db, session, kind="meeting", to="failed", reason=reason[:1000])
