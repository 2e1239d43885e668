"""Asking the meetings service for a meeting, and telling the counselor its link.

Both calls leave through the outbox: `request_meeting` commits the request with the stage
change; the relay sends it, and when the meetings service answers, records the meeting and
enqueues the counselor's notification in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import Sent, handles
from services.api.sessions.models import GuidanceSession
from services.api.users.models import User
from shared.contracts.meetings import Clearance, Host, MeetingOut, ProvisionRequest
from shared.contracts.notifications import Event, NotificationRequest, Recipient
from shared.stages import Provider
from shared.timeutil import as_utc, utcnow

PROVISION = "meetings.provision"
NOTIFY = "notifications.send"
CONSENT_TEXT_VERSION = "1"


async def request_meeting(
    *, db: AsyncSession, session: GuidanceSession, cause_id: uuid.UUID
) -> None:
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None and session.platform is not None
    request = ProvisionRequest(
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
        clearance=Clearance(
            session_id=session.id,
            platform=Provider(session.platform),
            text_version=CONSENT_TEXT_VERSION,
            participants=[],
        ),
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=PROVISION,
        idempotency_key=f"provision:{session.id}:{cause_id}",
        payload=request.model_dump(mode="json"),
    )


@handles(PROVISION)
async def send_provision(message: OutboxMessage, app_state: Any) -> Sent:
    url = app_state.settings.internal_url("meetings") + "/internal/v1/meetings"
    response = await app_state.service_client.post(
        "meetings", url, json=message.payload, idempotency_key=message.idempotency_key
    )
    meeting = MeetingOut.model_validate(response.json())

    async def record(db: AsyncSession) -> None:
        session = await db.get(GuidanceSession, meeting.session_id, with_for_update=True)
        if session is None:
            return
        session.meeting_id = meeting.id
        session.meeting_provider = meeting.provider.value
        session.meeting_host_url = meeting.host_url
        session.meeting_passcode = meeting.passcode
        session.meeting_provisioned_at = utcnow()
        db.add(session)
        await _notify_host(db, session, meeting)

    return Sent(record)


async def _notify_host(db: AsyncSession, session: GuidanceSession, meeting: MeetingOut) -> None:
    counselor = await db.get(User, session.counselor_id)
    assert counselor is not None
    request = NotificationRequest(
        idempotency_key=f"meeting-provisioned-host:{meeting.id}",
        school_id=session.school_id,
        session_id=session.id,
        event=Event.meeting_provisioned_host,
        recipients=[
            Recipient(
                person_id=counselor.id,
                name=counselor.name,
                email=counselor.email,
                telegram_chat_id=counselor.telegram_chat_id,
                phone=counselor.phone,
                locale=counselor.locale,
                timezone=counselor.timezone,
            )
        ],
        data={
            "session_title": session.title,
            "scheduled_start": as_utc(session.scheduled_start).isoformat(),
            "duration_minutes": session.duration_minutes,
            "provider": meeting.provider.value,
            "host_url": meeting.host_url,
            "passcode": meeting.passcode,
            "cleared_members": [],
        },
    )
    await outbox.enqueue(
        db=db,
        school_id=session.school_id,
        kind=NOTIFY,
        idempotency_key=request.idempotency_key,
        payload=request.model_dump(mode="json"),
    )


@handles(NOTIFY)
async def send_notification(message: OutboxMessage, app_state: Any) -> Sent:
    url = app_state.settings.internal_url("notifications") + "/internal/v1/notifications"
    await app_state.service_client.post(
        "notifications", url, json=message.payload, idempotency_key=message.idempotency_key
    )

    async def record(_: AsyncSession) -> None:
        """The notifications service keeps the delivery record; nothing more to keep here."""

    return Sent(record)
