"""Asking for consent: one request per student and per guardian of each minor.

Asking again re-sends the open requests (a fresh link each time) and makes no duplicates;
requests for an earlier platform or text version are superseded, so a change of either asks
everyone again. A minor without a guardian on file is reported, never skipped in silence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent import service as consent_service
from services.api.consent.models import ConsentRequest
from services.api.consent.tokens import ConsentTokens
from services.api.consent.wording import current_version
from services.api.schools.models import School
from services.api.sessions import notify
from services.api.sessions.gate import needs_guardian
from services.api.sessions.models import GuidanceSession, SessionParticipant
from services.api.users.models import Guardianship, User
from shared.contracts.notifications import Event
from shared.gate import Signer
from shared.problems import RequirementsUnmet, Unmet
from shared.stages import Stage
from shared.timeutil import utcnow

OPEN_FOR = timedelta(days=14)
ASKING_STAGES = (Stage.pre_preparation, Stage.preparation, Stage.implementation)
REPINNING_STAGES = (Stage.pre_preparation, Stage.preparation)


@dataclass(frozen=True)
class ConsentAsker:
    """What sending a consent request needs from the app: the link signer and its base URL."""

    tokens: ConsentTokens
    public_url: str


async def get_asker(request: Request) -> ConsentAsker:  # async: no thread-pool hop
    return ConsentAsker(
        tokens=request.app.state.consent_tokens,
        public_url=request.app.state.settings.public_url,
    )


Asker = Annotated[ConsentAsker, Depends(get_asker)]


@dataclass(frozen=True)
class IssuedRequest:
    request: ConsentRequest
    url: str | None  # None when nothing was sent (already answered)


@dataclass(frozen=True)
class Asked:
    requests: list[IssuedRequest]
    missing_guardians: list[uuid.UUID]


async def ask(*, db: AsyncSession, session: GuidanceSession, asker: ConsentAsker) -> Asked:
    if session.platform is None or session.stage not in ASKING_STAGES:
        unmet = []
        if session.platform is None:
            unmet.append(Unmet("platform_not_chosen", "Choose the platform before asking."))
        if session.stage not in ASKING_STAGES:
            unmet.append(Unmet("wrong_stage", f"No consent is asked in stage {session.stage}."))
        raise RequirementsUnmet("Consent cannot be asked for yet.", unmet)
    school = await db.get(School, session.school_id)
    assert school is not None
    version = await _version_to_ask(db, session, school)
    await _supersede_stale(db, session, version)
    issued: list[IssuedRequest] = []
    missing: list[uuid.UUID] = []
    for student, signers, guardian_missing in await _signers(db, session, school):
        if guardian_missing:
            missing.append(student.id)
        for signer, person, relationship in signers:
            issued.append(
                await _ask_one(db, session, student, signer, person, relationship, version, asker)
            )
    return Asked(requests=issued, missing_guardians=missing)


async def _version_to_ask(db: AsyncSession, session: GuidanceSession, school: School) -> str:
    """The school's current text while the session is being prepared (and fix it there); once
    it runs, the version its members agreed to stays."""
    if session.consent_text_version and session.stage not in REPINNING_STAGES:
        return session.consent_text_version
    session.consent_text_version = await current_version(db, school.id)
    db.add(session)
    return session.consent_text_version


async def _signers(
    db: AsyncSession, session: GuidanceSession, school: School
) -> list[tuple[User, list[tuple[Signer, User, str | None]], bool]]:
    """Each member, who must sign for them, and whether a needed guardian is missing.

    The member is always asked for their own assent, a guardian or not.
    """
    students = (
        await db.exec(
            select(User)
            .join(SessionParticipant, col(SessionParticipant.student_id) == User.id)
            .where(SessionParticipant.session_id == session.id)
            .order_by(User.name)
        )
    ).all()
    result = []
    for student in students:
        signers: list[tuple[Signer, User, str | None]] = [(Signer.student, student, None)]
        guardian_missing = False
        if needs_guardian(student.birth_date, school.guardian_consent_age, session.scheduled_start):
            rows = (
                await db.exec(
                    select(User, Guardianship.relationship)
                    .join(Guardianship, col(Guardianship.guardian_id) == User.id)
                    .where(Guardianship.student_id == student.id)
                )
            ).all()
            signers += [(Signer.guardian, g, rel) for g, rel in rows]
            guardian_missing = not rows
        result.append((student, signers, guardian_missing))
    return result


async def _supersede_stale(db: AsyncSession, session: GuidanceSession, version: str) -> None:
    stale = await db.exec(
        select(ConsentRequest).where(
            ConsentRequest.session_id == session.id,
            ConsentRequest.status == "open",
        )
    )
    for request in stale.all():
        if request.platform != session.platform or request.text_version != version:
            request.status = "superseded"
            db.add(request)


async def _ask_one(
    db: AsyncSession,
    session: GuidanceSession,
    student: User,
    signer: Signer,
    person: User,
    relationship: str | None,
    version: str,
    asker: ConsentAsker,
) -> IssuedRequest:
    request = await _existing(db, session, student.id, person.id, version)
    if request is not None and request.status == "answered" and await _still_covers(db, request):
        return IssuedRequest(request=request, url=None)
    if request is None or request.status != "open":
        request = ConsentRequest(
            school_id=session.school_id,
            session_id=session.id,
            group_id=session.group_id,
            student_id=student.id,
            signer=signer.value,
            signer_id=person.id,
            relationship=relationship,
            platform=session.platform or "",
            fallback_platform=session.fallback_platform,
            text_version=version,
            expires_at=utcnow() + OPEN_FOR,
        )
    request.expires_at = utcnow() + OPEN_FOR
    request.sent_count += 1
    db.add(request)
    await db.flush()
    token = asker.tokens.issue(request.id, request.expires_at)
    url = f"{asker.public_url.rstrip('/')}/v1/consent/{token}"
    await notify.send(
        db=db,
        session=session,
        event=Event.consent_requested,
        to=[person],
        key=f"consent-request:{request.id}:{request.sent_count}",
        data=notify.session_data(
            session,
            student_id=str(student.id),
            student_name=student.name,
            signer=signer.value,
            consent_url=url,
            expires_at=request.expires_at.isoformat(),
        ),
    )
    return IssuedRequest(request=request, url=url)


async def _existing(
    db: AsyncSession,
    session: GuidanceSession,
    student_id: uuid.UUID,
    signer_id: uuid.UUID,
    version: str,
) -> ConsentRequest | None:
    rows = await db.exec(
        select(ConsentRequest)
        .where(
            ConsentRequest.session_id == session.id,
            ConsentRequest.student_id == student_id,
            ConsentRequest.signer_id == signer_id,
            ConsentRequest.platform == session.platform,
            ConsentRequest.text_version == version,
        )
        .order_by(col(ConsentRequest.created_at).desc())
    )
    return rows.first()


async def _still_covers(db: AsyncSession, request: ConsentRequest) -> bool:
    """An answered request needs no new one while its grant stands (not declined, not withdrawn)."""
    active = await consent_service.active_for(
        db=db, group_id=request.group_id, student_id=request.student_id
    )
    return any(c.id == request.consent_id for c in active)


async def ask_again_if_asked(
    *, db: AsyncSession, session: GuidanceSession, asker: ConsentAsker
) -> None:
    """After a change of platform or of text: whoever was asked before is asked again."""
    asked_before = (
        await db.exec(
            select(ConsentRequest.id).where(ConsentRequest.session_id == session.id).limit(1)
        )
    ).first()
    if asked_before is not None and session.platform and session.stage in ASKING_STAGES:
        await ask(db=db, session=session, asker=asker)


async def ask_school_again(*, db: AsyncSession, school_id: uuid.UUID, asker: ConsentAsker) -> int:
    """A new text version: every session still being prepared that asked before asks again
    (a session already running keeps the version its members agreed to). How many did."""
    sessions = (
        await db.exec(
            select(GuidanceSession).where(
                GuidanceSession.school_id == school_id,
                col(GuidanceSession.stage).in_([s.value for s in REPINNING_STAGES]),
                col(GuidanceSession.id).in_(select(ConsentRequest.session_id).distinct()),
            )
        )
    ).all()
    for session in sessions:
        await ask(db=db, session=session, asker=asker)
    return len(sessions)
