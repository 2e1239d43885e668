"""The outbox handlers: each sends one kind of call to another service and records the answer.

The call carries the message's idempotency key, so the receiver makes its effect once however
often it is sent. What the answer changes here is decided in `provisioning`.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import PERMANENT_STATUS, Sent, give_up, handles, on_dead
from services.api.sessions import locks, notify, provisioning, reminders
from services.api.sessions.models import GuidanceSession, SessionParticipant
from shared.contracts.meetings import AdmitOut, MeetingOut
from shared.service_client import ServiceCallFailed


async def _post(
    app_state: Any, target: str, path: str, message: OutboxMessage, body: dict[str, Any]
) -> Any:
    return await _call(app_state, target, path, body, key=message.idempotency_key)


async def _call(app_state: Any, target: str, path: str, body: dict[str, Any], *, key: str) -> Any:
    url = str(app_state.settings.internal_url(target)) + path
    response = await app_state.service_client.post(target, url, json=body, idempotency_key=key)
    return response.json()


def _split(message: OutboxMessage, field: str) -> tuple[str, dict[str, Any]]:
    payload = dict(message.payload)
    return str(payload.pop(field)), payload


async def _session(db: AsyncSession, session_id: Any) -> GuidanceSession | None:
    return await locks.locked(db, uuid.UUID(str(session_id)))


async def _nothing(_: AsyncSession) -> None:
    """The receiver keeps the record of what it did; nothing more to keep here."""


@handles(provisioning.PROVISION)
async def send_provision(message: OutboxMessage, app_state: Any) -> Sent:
    answer = await _post(app_state, "meetings", "/internal/v1/meetings", message, message.payload)
    meeting = MeetingOut.model_validate(answer)

    async def record(db: AsyncSession) -> None:
        session = await _session(db, meeting.session_id)
        if session is not None:
            await provisioning.meeting_made(
                db=db, session=session, meeting=meeting, key=message.idempotency_key
            )

    return Sent(record)


@on_dead(provisioning.PROVISION)
async def provision_dead(db: AsyncSession, message: OutboxMessage) -> None:
    session = await _session(db, message.payload["session_id"])
    if session is not None:
        await provisioning.provision_failed(
            db=db,
            session=session,
            key=message.idempotency_key,
            reason=f"the meeting could not be made: {message.last_error}",
        )


@handles(provisioning.ADMIT)
async def send_admit(message: OutboxMessage, app_state: Any) -> Sent:
    meeting_id, body = _split(message, "meeting_id")
    answer = await _post(
        app_state, "meetings", f"/internal/v1/meetings/{meeting_id}/participants", message, body
    )
    admitted = AdmitOut.model_validate(answer)

    async def record(db: AsyncSession) -> None:
        session = await _session(db, body["clearance"]["session_id"])
        if session is not None and str(session.meeting_id) == meeting_id:
            await provisioning.store_links(
                db=db, session=session, links=admitted.join_links, first=False
            )

    return Sent(record)


@on_dead(provisioning.ADMIT)
async def admit_dead(db: AsyncSession, message: OutboxMessage) -> None:
    """Free the member to be admitted again at the next reconcile."""
    [person] = message.payload["clearance"]["participants"]
    participant = await db.get(
        SessionParticipant,
        (uuid.UUID(message.payload["clearance"]["session_id"]), uuid.UUID(person["person_id"])),
    )
    if participant is not None and participant.join_url is None:
        participant.admission_requested_at = None
        db.add(participant)


@handles(provisioning.REVOKE)
async def send_revoke(message: OutboxMessage, app_state: Any) -> Sent:
    meeting_id, body = _split(message, "meeting_id")
    await _post(
        app_state, "meetings", f"/internal/v1/meetings/{meeting_id}/revocations", message, body
    )
    return Sent(_nothing)


@handles(provisioning.RESCHEDULE)
async def send_reschedule(message: OutboxMessage, app_state: Any) -> Sent:
    meeting_id, body = _split(message, "meeting_id")
    await _post(
        app_state, "meetings", f"/internal/v1/meetings/{meeting_id}/reschedule", message, body
    )
    return Sent(_nothing)


@handles(provisioning.CANCEL)
async def send_cancel(message: OutboxMessage, app_state: Any) -> Sent:
    session_id, body = _split(message, "session_id")
    await _post(app_state, "meetings", f"/internal/v1/sessions/{session_id}/cancel", message, body)
    return Sent(_nothing)


@handles(notify.NOTIFY)
async def send_notification(message: OutboxMessage, app_state: Any) -> Sent:
    await _post(app_state, "notifications", "/internal/v1/notifications", message, message.payload)
    return Sent(_nothing)


@handles(notify.NOTIFY_TOGETHER)
async def send_notifications(message: OutboxMessage, app_state: Any) -> Sent:
    path = "/internal/v1/notifications/batch"
    try:
        await _post(app_state, "notifications", path, message, message.payload)
    except ServiceCallFailed as exc:
        if exc.status in (404, 405):
            # A notifications service older than this api (mid-deploy) has no batch route yet:
            # tried again later, as in an outage, rather than given up with everyone's links.
            raise ServiceCallFailed(exc.target, f"no batch route yet: {exc.reason}") from exc
        if exc.status not in PERMANENT_STATUS:
            raise
        # The batch is all or none, and one of it was refused for good (a key reused for other
        # content, a request the receiver's schema refuses: a bug of ours either way). The
        # others must not die with it: they go one at a time, in order, and each refused one
        # is kept as a dead message of its own, as it would have been sent alone.
        return Sent(
            partial(_keep_refused, batch=message, refused=await _one_by_one(app_state, message))
        )
    return Sent(_nothing)


async def _one_by_one(app_state: Any, batch: OutboxMessage) -> list[tuple[dict[str, Any], str]]:
    """Send each request of the batch alone, in order; the refused ones and why. A failure
    that may pass (an outage) is raised: the batch is tried again later, and the ones already
    taken are taken once, by their keys."""
    refused = []
    for request in batch.payload["notifications"]:
        try:
            await _call(
                app_state,
                "notifications",
                "/internal/v1/notifications",
                request,
                key=request["idempotency_key"],
            )
        except ServiceCallFailed as exc:
            if exc.status not in PERMANENT_STATUS:
                raise
            refused.append((request, str(exc)[:500]))
    return refused


async def _keep_refused(
    db: AsyncSession, *, batch: OutboxMessage, refused: list[tuple[dict[str, Any], str]]
) -> None:
    for position, (request, reason) in enumerate(refused):
        alone = OutboxMessage(
            school_id=batch.school_id,
            kind=notify.NOTIFY,
            idempotency_key=f"refused:{batch.id}:{position}",
            payload=request,
            request_id=batch.request_id,
            attempts=1,
        )
        db.add(alone)
        await give_up(db, alone, f"refused when its batch {batch.id} went one by one: {reason}")


@handles(reminders.CALL_OFF)
async def send_call_off(message: OutboxMessage, app_state: Any) -> Sent:
    await _post(
        app_state, "notifications", "/internal/v1/notifications/cancel", message, message.payload
    )
    return Sent(_nothing)
