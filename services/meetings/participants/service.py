"""Admitting cleared members to a meeting, each with their own link, and revoking them."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.meetings import repository as meeting_repository
from services.meetings.meetings.models import Meeting
from services.meetings.participants import repository
from services.meetings.participants.links import JoinLinks, token_hash
from services.meetings.participants.models import Participant, ParticipantStatus
from shared.contracts.meetings import (
    AdmitRequest,
    Clearance,
    ClearedParticipant,
    JoinLink,
    RevokeRequest,
)
from shared.problems import InvalidInput
from shared.timeutil import utcnow


async def admit_to_meeting(
    *, db: AsyncSession, meeting_id: uuid.UUID, request: AdmitRequest, key: str, links: JoinLinks
) -> list[JoinLink]:
    """Members cleared after the meeting was made; the clearance must be for this meeting."""
    meeting = await meeting_repository.get_open(db, meeting_id)
    if request.clearance.session_id != meeting.session_id:
        raise InvalidInput("clearance.session_id", "the clearance is for another session")
    if request.clearance.platform.value != meeting.provider:
        raise InvalidInput("clearance.platform", "the clearance covers another platform")
    return await admit(db=db, meeting=meeting, clearance=request.clearance, key=key, links=links)


async def admit(
    *, db: AsyncSession, meeting: Meeting, clearance: Clearance, key: str, links: JoinLinks
) -> list[JoinLink]:
    """One link per cleared member: the same again for a replayed key or a member still
    active; a new admission (a new link) for anyone else, a revoked member included."""
    people = [member.person_id for member in clearance.participants]
    held = await repository.admissions(db, meeting.id, people)
    join_links = []
    for member in clearance.participants:
        earlier = held.setdefault(member.person_id, [])
        admission = _kept(earlier, key)
        if admission is None:
            admission = _new_admission(meeting, member, clearance, key, links, earlier)
            earlier.append(admission)
            db.add(admission)
        join_links.append(JoinLink(person_id=member.person_id, join_url=_url(db, admission, links)))
    await db.flush()
    return join_links


def _kept(admissions: list[Participant], key: str) -> Participant | None:
    by_key = next((a for a in admissions if a.admitted_by_key == key), None)
    return by_key or next((a for a in admissions if a.status == ParticipantStatus.active), None)


def _new_admission(
    meeting: Meeting,
    member: ClearedParticipant,
    clearance: Clearance,
    key: str,
    links: JoinLinks,
    earlier: list[Participant],
) -> Participant:
    number = max((a.admission_no for a in earlier), default=0) + 1
    token = links.token(meeting_id=meeting.id, person_id=member.person_id, admission_no=number)
    return Participant(
        meeting_id=meeting.id,
        person_id=member.person_id,
        name=member.name,
        locale=member.locale,
        admission_no=number,
        token_hash=token_hash(token),
        admitted_by_key=key,
        consent_ids=_covering_consents(member, clearance),
    )


def _covering_consents(member: ClearedParticipant, clearance: Clearance) -> list[str]:
    """The consents that clear this member: the evidence the admission rests on."""
    return [
        str(c.consent_id)
        for c in member.consents
        if c.granted
        and not c.withdrawn
        and c.platform == clearance.platform
        and c.text_version == clearance.text_version
    ]


def _url(db: AsyncSession, admission: Participant, links: JoinLinks) -> str:
    token = links.token(
        meeting_id=admission.meeting_id,
        person_id=admission.person_id,
        admission_no=admission.admission_no,
    )
    if token_hash(token) != admission.token_hash:
        # The service secret was rotated since: the link derived now is the one that must work.
        admission.token_hash = token_hash(token)
        db.add(admission)
    return links.url(token)


async def active_links(*, db: AsyncSession, meeting: Meeting, links: JoinLinks) -> list[JoinLink]:
    return [
        JoinLink(person_id=a.person_id, join_url=_url(db, a, links))
        for a in await repository.active(db, meeting.id)
    ]


async def revoke(*, db: AsyncSession, meeting_id: uuid.UUID, request: RevokeRequest) -> bool:
    """Close the person's link at once; False when they held no active link (nothing to do)."""
    await meeting_repository.get(db, meeting_id, for_update=True)
    admissions = await repository.active(db, meeting_id, request.person_id)
    for admission in admissions:
        admission.status = ParticipantStatus.revoked
        admission.revoked_at = utcnow()
        admission.revoke_reason = request.reason
        db.add(admission)
    await db.flush()
    return bool(admissions)


async def by_token(*, db: AsyncSession, token: str) -> Participant | None:
    return await repository.by_token_hash(db, token_hash(token))
