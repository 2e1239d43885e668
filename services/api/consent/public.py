"""What a signer does with their link, no account needed: read, decide, withdraw.

The token names one consent request. Reading works while the link is genuine; deciding needs
the request still open and the link unexpired (410 otherwise: used, expired or superseded);
withdrawing works with any genuine link, as long as there is a consent to take back. A forged
or tampered link records nothing and answers 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal, Role, Scope
from services.api.consent import service as consent_service
from services.api.consent.models import Consent, ConsentRequest
from services.api.consent.texts import ShownText
from services.api.consent.tokens import ConsentToken, ConsentTokens
from services.api.consent.wording import shown_text
from services.api.sessions import preparation
from services.api.sessions.models import GuidanceSession
from services.api.users.models import User
from shared.gate import Signer
from shared.problems import DomainError, InvalidInput, NotFound
from shared.timeutil import utcnow


class LinkGone(DomainError):
    """The link was used, expired, or replaced by a newer request."""

    status, type, title = 410, "consent-link-gone", "This consent link can no longer be used"


@dataclass(frozen=True)
class Opened:
    request: ConsentRequest
    session: GuidanceSession
    student: User
    signer: User
    text: ShownText
    consent: Consent | None
    withdrawn: bool
    link: ConsentToken  # this link's own expiry, which is what deciding checks


@dataclass(frozen=True)
class Decision:
    decision: Literal["grant", "decline"]
    acknowledged_items: list[str]
    signer_name: str
    locale: str
    channel: str
    client_address: str | None
    user_agent: str | None


# The request with its session, student and signer: one round trip where four gets were
# (every page view and every decision opens the link first).
_student, _signer = aliased(User), aliased(User)
_OPEN = (
    select(ConsentRequest, GuidanceSession, _student, _signer)
    .join(GuidanceSession, col(GuidanceSession.id) == ConsentRequest.session_id)
    .join(_student, col(_student.id) == ConsentRequest.student_id)
    .join(_signer, col(_signer.id) == ConsentRequest.signer_id)
    .where(ConsentRequest.id == bindparam("request_id"))
)


async def open_link(
    *, db: AsyncSession, tokens: ConsentTokens, token: str, locale: str | None = None
) -> Opened:
    link = tokens.read(token)
    found = (await db.exec(_OPEN, params={"request_id": link.request_id})).first()
    if found is None:
        raise NotFound("this consent link is not valid")
    request, session, student, signer = found
    text = await shown_text(
        db=db,
        session=session,
        student=student,
        guardian=request.signer == Signer.guardian,
        platform=request.platform,
        fallback=request.fallback_platform,
        version=request.text_version,
        locale=locale or signer.locale,
    )
    consent = await db.get(Consent, request.consent_id) if request.consent_id else None
    # Only a grant can be withdrawn; a decline is never "withdrawn".
    withdrawn = (
        consent is not None
        and consent.decision == "granted"
        and consent.id
        not in {
            c.id
            for c in await consent_service.active_for(
                db=db, group_id=request.group_id, student_id=request.student_id
            )
        }
    )
    return Opened(
        request=request,
        session=session,
        student=student,
        signer=signer,
        text=text,
        consent=consent,
        withdrawn=withdrawn,
        link=link,
    )


async def decide(
    *, db: AsyncSession, tokens: ConsentTokens, token: str, decision: Decision
) -> Consent:
    opened = await open_link(db=db, tokens=tokens, token=token, locale=decision.locale)
    link = opened.link
    request = opened.request
    if request.status != "open":
        raise LinkGone(
            f"This link was already {request.status}; ask your counselor for a new one"
            if request.status != "answered"
            else "A decision was already recorded with this link; you can still withdraw it here."
        )
    if link.expired:
        raise LinkGone("This link has expired; ask your counselor for a new one.")
    _check_items(opened.text, decision)
    consent = await consent_service.record(
        db=db,
        consent=Consent(
            school_id=request.school_id,
            group_id=request.group_id,
            session_id=request.session_id,
            student_id=request.student_id,
            signer=request.signer,
            signer_id=request.signer_id,
            signer_name=decision.signer_name.strip(),
            relationship=request.relationship,
            platform=request.platform,
            fallback_platform=request.fallback_platform,
            text_version=opened.text.version,
            text_hash=opened.text.sha256,
            locale=opened.text.locale,
            items=sorted(set(decision.acknowledged_items)),
            decision="granted" if decision.decision == "grant" else "declined",
            channel=decision.channel,
            client_address=decision.client_address,
            user_agent=(decision.user_agent or "")[:300] or None,
        ),
    )
    request.status, request.answered_at, request.consent_id = "answered", utcnow(), consent.id
    db.add(request)
    await preparation.consent_recorded(db=db, consent=consent)
    return consent


def _check_items(text: ShownText, decision: Decision) -> None:
    unknown = sorted(set(decision.acknowledged_items) - set(text.item_codes))
    if unknown:
        raise InvalidInput("acknowledged_items", f"not items of this text: {', '.join(unknown)}")
    if not decision.signer_name.strip():
        raise InvalidInput("signer_name", "the name of the person deciding is required")
    if decision.decision == "grant":
        missing = [c for c in text.item_codes if c not in decision.acknowledged_items]
        if missing:
            raise InvalidInput(
                "acknowledged_items",
                f"to give consent, acknowledge every item; missing: {', '.join(missing)}",
            )


async def withdraw(
    *, db: AsyncSession, tokens: ConsentTokens, token: str, reason: str | None
) -> uuid.UUID:
    """Withdraw what this link gave; the student's id (a signer sees nobody else's status)."""
    opened = await open_link(db=db, tokens=tokens, token=token)
    if opened.consent is None or opened.withdrawn or opened.consent.decision != "granted":
        raise NotFound("there is no consent to withdraw with this link")
    signer = opened.signer
    principal = Principal(
        role=Role(signer.role),
        subject=str(signer.id),
        client_id="consent-link",
        scopes=frozenset({Scope.write.value}),
        school_id=signer.school_id,
        user_id=signer.id,
    )
    await preparation.withdraw(
        db=db,
        principal=principal,
        session_id=opened.session.id,
        student_id=opened.student.id,
        reason=reason,
        only_consent=opened.consent.id,
    )
    return opened.student.id
