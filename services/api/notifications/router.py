"""Notifications as the front ends see them: the caller's inbox, what was sent about a session,
and the school's dead letters."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.api.auth.deps import PersonReader, PersonWriter, SchoolAdmin, StaffReader
from services.api.db import DbSession
from services.api.notifications import service
from shared.contracts.notifications import (
    DeadLetter,
    DeadLetterPage,
    InboxPage,
    InboxQuery,
    InboxRead,
    PageQuery,
    SessionNotificationPage,
)
from shared.problems import problem_responses

router = APIRouter(tags=["notifications"], responses=problem_responses(401, 403, 404))
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "problem+json: not the caller's, or of another school"}
}


@router.get("/v1/me/inbox", response_model=InboxPage)
async def my_inbox(
    query: Annotated[InboxQuery, Query()], request: Request, principal: PersonReader
) -> InboxPage:
    """The caller's in-app notifications, newest first, with `unread_count`; pass
    `next_cursor` back as `cursor` for the next page. Only a person (a user, or an admin client
    acting as one through the token exchange) has an inbox."""
    return await service.inbox(app_state=request.app.state, principal=principal, query=query)


@router.post("/v1/me/inbox/read-all", response_model=InboxRead)
async def mark_all_read(request: Request, principal: PersonWriter) -> InboxRead:
    """Mark everything in the caller's inbox read."""
    return await service.mark_all_read(app_state=request.app.state, principal=principal)


@router.post("/v1/me/inbox/{item_id}/read", response_model=InboxRead, responses=_NOT_FOUND)
async def mark_read(item_id: uuid.UUID, request: Request, principal: PersonWriter) -> InboxRead:
    """Mark one item of the caller's inbox read."""
    return await service.mark_read(
        app_state=request.app.state, principal=principal, item_id=item_id
    )


@router.get(
    "/v1/sessions/{session_id}/notifications",
    response_model=SessionNotificationPage,
    responses=_NOT_FOUND,
)
async def session_notifications(
    session_id: uuid.UUID,
    query: Annotated[PageQuery, Query()],
    request: Request,
    db: DbSession,
    principal: StaffReader,
) -> SessionNotificationPage:
    """What was sent about this session, newest first: to whom (addresses masked), on which
    channel, with each delivery's status and every try. Links are never shown here."""
    return await service.of_session(
        db=db, app_state=request.app.state, principal=principal, session_id=session_id, query=query
    )


@router.get("/v1/school/notifications/dead", response_model=DeadLetterPage)
async def dead_letters(
    query: Annotated[PageQuery, Query()], request: Request, principal: SchoolAdmin
) -> DeadLetterPage:
    """School admin: deliveries that gave up after their last try, newest first."""
    return await service.dead_letters(app_state=request.app.state, principal=principal, query=query)


@router.post(
    "/v1/school/notifications/deliveries/{delivery_id}/retry",
    response_model=DeadLetter,
    responses={**_NOT_FOUND, 409: {"description": "problem+json: it was sent or called off"}},
)
async def retry_delivery(
    delivery_id: uuid.UUID, request: Request, principal: SchoolAdmin
) -> DeadLetter:
    """School admin: send a dead letter again; it is pending at once, its tries kept."""
    return await service.retry(
        app_state=request.app.state, principal=principal, delivery_id=delivery_id
    )
