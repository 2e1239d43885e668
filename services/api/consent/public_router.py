"""The consent link's endpoints: public, the token is the credential.

The same URLs serve a front end (JSON) and the person's browser: a browser (Accept prefers
text/html) gets pages, and the pages' forms post here too (`browser`, `pages`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.api.consent import browser, public
from services.api.consent.negotiation import is_form, json_body, wants_html
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
_PAGE = {"text/html": {"schema": {"type": "string"}}}
# problem+json for a front end; the page saying so for a browser or a form.
_GONE: dict[int | str, dict[str, Any]] = {
    410: {"content": _PAGE, "description": "The link was used, expired or replaced"},
    404: {"content": _PAGE, "description": "Not a genuine consent link; nothing recorded"},
}
_FORM = "application/x-www-form-urlencoded"
_DECISION_FORM = {
    "type": "object",
    "required": ["decision", "signer_name", "text_sha256"],
    "properties": {
        "decision": {"type": "string", "enum": ["grant", "decline"]},
        "item": {"type": "array", "items": {"type": "string"}, "description": "Each ticked item"},
        "signer_name": {"type": "string", "maxLength": 200},
        "lang": {"type": "string", "enum": ["id", "en"]},
        "text_sha256": {"type": "string", "description": "The hash of the text the form showed"},
    },
}


def ask_view(opened: public.Opened) -> ConsentAsk:
    request, text = opened.request, opened.text
    status = request.status
    if status == "open" and opened.link.expired:
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
        expires_at=opened.link.expires_at,
        decision=opened.consent.decision if opened.consent else None,
        withdrawn=opened.withdrawn,
    )


@router.get(
    "/{token}",
    response_model=ConsentAsk,
    responses={**_GONE, 200: {"content": _PAGE, "description": "JSON, or the page for a browser"}},
)
async def read(
    token: str,
    request: Request,
    db: DbSession,
    lang: Annotated[str | None, Query(pattern="^(id|en)$")] = None,
) -> ConsentAsk | HTMLResponse:
    """What is asked: the session, the platform, and the text with its items.

    A browser gets the consent form (or the decision already recorded, or why the link is gone).
    """
    if wants_html(request):
        return await browser.ask_page(request, db=db, token=token, lang=lang)
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
        201: {"content": _PAGE, "description": "The record (JSON), or its page for a form"},
        422: {
            "content": _PAGE,
            "description": "An item to acknowledge is missing (named in `errors`)",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DecisionIn.model_json_schema()},
                _FORM: {"schema": _DECISION_FORM},
            },
        }
    },
)
async def decide(token: str, request: Request, db: DbSession) -> ConsentPublic | HTMLResponse:
    """Grant (every item acknowledged) or decline; one decision per link.

    JSON in, JSON out; the page's form post (channel `web`) is answered with a page.
    """
    if is_form(request):
        return await browser.decide_page(request, db=db, token=token)
    data: DecisionIn = await json_body(request, DecisionIn)
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


@router.post(
    "/{token}/withdraw",
    response_model=Withdrawn,
    responses={**_GONE, 200: {"content": _PAGE, "description": "JSON, or a page for a form"}},
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": WithdrawIn.model_json_schema()},
                _FORM: {"schema": {"type": "object", "properties": {"lang": {"type": "string"}}}},
            },
        }
    },
)
async def withdraw(token: str, request: Request, db: DbSession) -> Withdrawn | HTMLResponse:
    """Take the consent given with this link back; the member's link stops working at once."""
    if is_form(request):
        return await browser.withdraw_page(request, db=db, token=token)
    data: WithdrawIn | None = await json_body(request, WithdrawIn | None, required=False)
    opened_student = await public.withdraw(
        db=db,
        tokens=request.app.state.consent_tokens,
        token=token,
        reason=data.reason if data else None,
    )
    return Withdrawn(withdrawn=True, student_id=opened_student)
