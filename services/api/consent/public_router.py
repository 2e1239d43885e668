"""The consent link's endpoints: public, the token is the credential."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.api.consent import public
from services.api.consent.public_schemas import (
    AskedSession,
    ConsentAsk,
    ConsentItem,
    ConsentTextPublic,
    DecisionIn,
    WithdrawIn,
    Withdrawn,
)
from services.api.consent.schemas import ConsentPublic
from services.api.db import DbSession
from shared.timeutil import as_utc

router = APIRouter(prefix="/v1/consent", tags=["consent (public)"])
_GONE: dict[int | str, dict[str, Any]] = {
    410: {"description": "The link was used, expired or replaced"},
    404: {"description": "Not a genuine consent link; nothing recorded"},
}


def ask_view(opened: public.Opened) -> ConsentAsk:
    request, text = opened.request, opened.text
    status = request.status
    if status == "open" and as_utc(request.expires_at) <= public.utcnow():
        status = "expired"
    return ConsentAsk(
        status=status,
        signer=request.signer,
        student_name=opened.student.name,
        session=AskedSession(
            title=opened.session.title,
            scheduled_start=as_utc(opened.session.scheduled_start),
            platform=request.platform,
            fallback_platform=request.fallback_platform,
        ),
        text=ConsentTextPublic(
            version=text.version,
            locale=text.locale,
            title=text.title,
            intro=text.intro,
            items=[ConsentItem(code=c, title=t, text=b) for c, t, b in text.items],
            sha256=text.sha256,
        ),
        expires_at=as_utc(request.expires_at),
        decision=opened.consent.decision if opened.consent else None,
        withdrawn=opened.withdrawn,
    )


@router.get("/{token}", response_model=ConsentAsk, responses=_GONE)
async def read(
    token: str,
    request: Request,
    db: DbSession,
    lang: Annotated[str | None, Query(pattern="^(id|en)$")] = None,
) -> ConsentAsk:
    """What is asked: the session, the platform, and the text with its items."""
    opened = await public.open_link(
        db=db, tokens=request.app.state.consent_tokens, token=token, locale=lang
    )
    return ask_view(opened)


@router.post(
    "/{token}",
    status_code=201,
    response_model=ConsentPublic,
    responses={
        **_GONE,
        422: {"description": "An item to acknowledge is missing (named in `errors`)"},
    },
)
async def decide(token: str, data: DecisionIn, request: Request, db: DbSession) -> ConsentPublic:
    """Grant (every item acknowledged) or decline; one decision per link."""
    consent = await public.decide(
        db=db,
        tokens=request.app.state.consent_tokens,
        token=token,
        decision=public.Decision(
            decision=data.decision,
            acknowledged_items=data.acknowledged_items,
            signer_name=data.signer_name,
            locale=data.locale or "",
            channel="api",
            client_address=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        ),
    )
    return ConsentPublic.model_validate(consent, from_attributes=True)


@router.post("/{token}/withdraw", response_model=Withdrawn, responses=_GONE)
async def withdraw(
    token: str, request: Request, db: DbSession, data: WithdrawIn | None = None
) -> Withdrawn:
    """Take the consent given with this link back; the member's link stops working at once."""
    opened_student = await public.withdraw(
        db=db,
        tokens=request.app.state.consent_tokens,
        token=token,
        reason=data.reason if data else None,
    )
    return Withdrawn(withdrawn=True, student_id=opened_student)
