"""The member's join link. Public: the token in the path is the only credential."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.meetings.db import DbSession
from services.meetings.join import pages, service
from services.meetings.join.clearance import Clearances
from services.meetings.providers.registry import Providers

router = APIRouter(tags=["join"])
_PAGE = {"text/html": {"schema": {"type": "string"}}}


@router.get(
    "/j/{token}",
    response_class=HTMLResponse,
    responses={
        200: {"content": _PAGE, "description": "A link preview's crawler: a neutral page"},
        302: {"description": "Admitted: on to the provider's meeting"},
        403: {
            "content": _PAGE,
            "description": "Consent not active, or too early (the page names the time)",
        },
        404: {"content": _PAGE, "description": "Not a link we gave"},
        410: {"content": _PAGE, "description": "The session has ended or was cancelled"},
        503: {
            "content": _PAGE,
            "description": "The member's clearance, or the provider's link, cannot be had now",
        },
    },
)
async def join(
    token: str, request: Request, db: DbSession, clearance: Clearances, providers: Providers
) -> Response:
    """Check the member is cleared and the session is open, record the click, send them on."""
    decision = await service.click(
        db=db, token=token, visitor=_visitor(request), clearance=clearance, providers=providers
    )
    return pages.answer(decision, accept_language=request.headers.get("accept-language"))


@router.get(
    "/h/{token}",
    response_class=HTMLResponse,
    responses={
        200: {"content": _PAGE, "description": "A link preview's crawler: a neutral page"},
        302: {"description": "On to the provider's host link, fetched now"},
        404: {"content": _PAGE, "description": "Not a link we gave"},
        410: {"content": _PAGE, "description": "The session was cancelled"},
        503: {"content": _PAGE, "description": "The provider cannot give the link now"},
    },
)
async def host(token: str, request: Request, db: DbSession, providers: Providers) -> Response:
    """The counselor's link to open the meeting as host. The token in the path is the
    credential; the provider's host link (which may carry the host's key) is never shown."""
    decision = await service.host_click(
        db=db, token=token, visitor=_visitor(request), providers=providers
    )
    return pages.answer(decision, accept_language=request.headers.get("accept-language"))


def _visitor(request: Request) -> service.Visitor:
    return service.Visitor(
        client_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
