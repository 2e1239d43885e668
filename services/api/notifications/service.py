"""What the notifications service holds, for the people it concerns: inboxes, what was sent about
a session, and a school's dead letters. The notifications service keeps them; this asks it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal
from services.api.sessions import service as sessions
from shared import cursors
from shared.contracts.notifications import (
    DeadLetter,
    DeadLetterPage,
    InboxPage,
    InboxQuery,
    InboxRead,
    PageQuery,
    SessionNotificationPage,
)
from shared.problems import Conflict, DomainError, NotFound, ServiceUnavailable
from shared.service_client import ServiceCallFailed


def _refused(exc: ServiceCallFailed, missing: str) -> DomainError:
    if exc.status == 404:
        return NotFound(missing)
    if exc.status == 409:
        return Conflict(exc.reason.partition(": ")[2] or "not possible in this state")
    return ServiceUnavailable("notifications cannot be reached now; try again")


def _school_url(app_state: Any, school_id: uuid.UUID, path: str) -> str:
    base = app_state.settings.internal_url("notifications")
    return f"{base}/internal/v1/schools/{school_id}{path}"


async def _get(app_state: Any, url: str, query: PageQuery, missing: str) -> Any:
    if query.cursor:
        cursors.decode(query.cursor)  # a bad cursor is the caller's 422, said here
    try:
        response = await app_state.service_client.get(
            "notifications", url, params=query.model_dump(exclude_none=True)
        )
    except ServiceCallFailed as exc:
        raise _refused(exc, missing) from exc
    return response.json()


async def _post(app_state: Any, url: str, key: str, missing: str) -> Any:
    try:
        # Keyed so it may be retried: marking read and re-sending are the same done twice.
        response = await app_state.service_client.post(
            "notifications", url, json={}, idempotency_key=key
        )
    except ServiceCallFailed as exc:
        raise _refused(exc, missing) from exc
    return response.json()


def _inbox_url(app_state: Any, principal: Principal, path: str = "") -> str:
    person = access.own_person(principal)
    return _school_url(app_state, principal.tenant, f"/people/{person}/inbox{path}")


async def inbox(*, app_state: Any, principal: Principal, query: InboxQuery) -> InboxPage:
    """The caller's own inbox, newest first."""
    answer = await _get(app_state, _inbox_url(app_state, principal), query, "no inbox")
    return InboxPage.model_validate(answer)


async def mark_read(*, app_state: Any, principal: Principal, item_id: uuid.UUID) -> InboxRead:
    """Mark one of the caller's own items read."""
    url = _inbox_url(app_state, principal, f"/{item_id}/read")
    answer = await _post(app_state, url, f"inbox-read:{item_id}", "no such inbox item")
    return InboxRead.model_validate(answer)


async def mark_all_read(*, app_state: Any, principal: Principal) -> InboxRead:
    """Mark everything in the caller's inbox read."""
    url = _inbox_url(app_state, principal, "/read-all")
    key = f"inbox-read-all:{access.own_person(principal)}:{uuid.uuid4()}"
    return InboxRead.model_validate(await _post(app_state, url, key, "no inbox"))


async def of_session(
    *,
    db: AsyncSession,
    app_state: Any,
    principal: Principal,
    session_id: uuid.UUID,
    query: PageQuery,
) -> SessionNotificationPage:
    """What was sent about a session: for its counselor and the school admin."""
    session = await sessions.get(db=db, principal=principal, session_id=session_id)
    access.ensure_may_run_session(principal, counselor_id=session.counselor_id)
    url = _school_url(app_state, principal.tenant, f"/sessions/{session.id}/notifications")
    return SessionNotificationPage.model_validate(
        await _get(app_state, url, query, "no such session")
    )


async def dead_letters(*, app_state: Any, principal: Principal, query: PageQuery) -> DeadLetterPage:
    """The school's deliveries that gave up."""
    url = _school_url(app_state, principal.tenant, "/deliveries/dead")
    return DeadLetterPage.model_validate(await _get(app_state, url, query, "no such school"))


async def retry(*, app_state: Any, principal: Principal, delivery_id: uuid.UUID) -> DeadLetter:
    """Send a dead letter again."""
    url = _school_url(app_state, principal.tenant, f"/deliveries/{delivery_id}/retry")
    answer = await _post(app_state, url, f"delivery-retry:{delivery_id}", "no such delivery")
    return DeadLetter.model_validate(answer)
