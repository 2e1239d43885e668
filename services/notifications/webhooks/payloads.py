"""What a webhook says: the Standard Webhooks shape `{type, timestamp, data}`.

`data` holds ids (school, session, notification, the people told) and the facts of the event,
taken from the notification's data by name. Nothing else passes: no consent, join or host link,
no passcode, no email address or phone number, no names, no counseling notes. An event added
later carries the session facts only until its own are listed here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.notifications.notifications.models import Notification
from shared.contracts.webhooks import WEBHOOK_TEST
from shared.timeutil import as_utc

SESSION_FACTS = ("session_title", "scheduled_start", "duration_minutes", "provider")
EVENT_FACTS: dict[str, tuple[str, ...]] = {
    "consent_requested": ("student_id", "signer", "expires_at"),
    "consent_withdrawn": ("student_id", "blocked"),
    "session_rescheduled": ("schedule_sequence",),
    "session_cancelled": ("reason", "schedule_sequence"),
    "session_reminder": ("reminder",),
    "follow_up_due": ("follow_up",),
    "contact_unreachable": ("channel", "fallback_channel"),
}


def timestamp(moment: datetime) -> str:
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def for_notification(
    notification: Notification, recipient_ids: Sequence[uuid.UUID]
) -> dict[str, Any]:
    """The payload telling of one notification; the same for every subscription."""
    facts = SESSION_FACTS + EVENT_FACTS.get(notification.event, ())
    data: dict[str, Any] = {
        "notification_id": str(notification.id),
        "school_id": str(notification.school_id),
        "session_id": str(notification.session_id) if notification.session_id else None,
        "recipient_ids": [str(p) for p in recipient_ids],
        **{name: notification.data[name] for name in facts if name in notification.data},
    }
    moment = notification.deliver_after or notification.created_at
    return {"type": notification.event, "timestamp": timestamp(moment), "data": data}


def for_test(*, school_id: uuid.UUID, subscription_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    return {
        "type": WEBHOOK_TEST,
        "timestamp": timestamp(at),
        "data": {
            "school_id": str(school_id),
            "subscription_id": str(subscription_id),
            "message": "A test event from Lingkar: the subscription works.",
        },
    }
