"""The Cloud API's status webhooks: signed by the Meta app, sent at least once.

Meta signs the raw body with the app secret (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`).
Statuses only move forward (sent, delivered, read), so one seen again, or late, changes nothing.
`failed` ends a delivery already sent (131047: outside the 24-hour window; 131026: not on
WhatsApp) and hands the message to the person's next channel, once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Collection
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications import fallback
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.whatsapp.schemas import MessageStatus, Receipt, StatusWebhook
from shared.problems import Forbidden, InvalidInput, NotFound, Unauthorized
from shared.timeutil import utcnow

log = logging.getLogger("lingkar.notifications.whatsapp")

PROGRESS = {"sent": 1, "delivered": 2, "read": 3}
UNDELIVERABLE = 131026


class WhatsAppWebhookNotSetUp(NotFound):
    type, title = "whatsapp-webhook-not-set-up", "WhatsApp webhook not set up"


class WebhookSignatureInvalid(Unauthorized):
    type, title = "webhook-signature-invalid", "Webhook signature invalid"


class VerifyTokenMismatch(Forbidden):
    type, title = "verify-token-mismatch", "Verify token does not match"


def verify_subscription(
    *, verify_token: str | None, mode: str | None, token: str | None, challenge: str | None
) -> str:
    """Meta's set-up call: echo its challenge when it brings our verify token."""
    if not verify_token:
        raise WhatsAppWebhookNotSetUp("no WhatsApp webhook is set up here")
    if mode != "subscribe" or not token or not challenge:
        raise VerifyTokenMismatch("expected hub.mode=subscribe, hub.verify_token, hub.challenge")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise VerifyTokenMismatch("hub.verify_token is not this service's")
    return challenge


def verify_signature(*, app_secret: str | None, body: bytes, signature: str | None) -> None:
    """Refuse (401) a call not signed with the Meta app's secret."""
    if not app_secret:
        raise WhatsAppWebhookNotSetUp("no WhatsApp webhook is set up here")
    if not signature or not signature.startswith("sha256="):
        raise WebhookSignatureInvalid("the call is not signed (X-Hub-Signature-256)")
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookSignatureInvalid("the call's signature does not match")


async def receive(
    *,
    db: AsyncSession,
    app_secret: str | None,
    body: bytes,
    signature: str | None,
    unconfigured: Collection[str],
) -> Receipt:
    """Check one webhook call and record each message status it carries (`unconfigured`:
    the channels not set up here, for a fallback's report to the counselor)."""
    verify_signature(app_secret=app_secret, body=body, signature=signature)
    try:
        webhook = StatusWebhook.model_validate_json(body)
    except ValidationError:
        raise InvalidInput("body", "not a WhatsApp webhook") from None
    counts = {"recorded": 0, "duplicate": 0, "ignored": 0}
    for entry in webhook.entry:
        for change in entry.changes:
            for status in change.value.statuses:
                counts[await apply(db=db, status=status, unconfigured=unconfigured)] += 1
    return Receipt(
        recorded=counts["recorded"], duplicates=counts["duplicate"], ignored=counts["ignored"]
    )


async def apply(*, db: AsyncSession, status: MessageStatus, unconfigured: Collection[str]) -> str:
    """Record one status on its delivery: 'recorded', 'duplicate', or 'ignored'."""
    delivery = (
        await db.exec(
            select(Delivery).where(
                Delivery.provider_message_id == status.id, Delivery.channel == "whatsapp"
            )
        )
    ).first()
    if delivery is None or (status.status not in PROGRESS and status.status != "failed"):
        return "ignored"
    if status.status == "failed":
        return await _failed(db, delivery, status, unconfigured)
    if delivery.status != "sent" or PROGRESS[status.status] <= PROGRESS.get(
        delivery.provider_status or "", 0
    ):
        return "duplicate"
    at = _when(status)
    delivery.provider_status = status.status
    if status.status in ("delivered", "read"):
        delivery.delivered_at = delivery.delivered_at or at
    if status.status == "read":
        delivery.read_at = at
    db.add(delivery)
    return "recorded"


async def _failed(
    db: AsyncSession, delivery: Delivery, status: MessageStatus, unconfigured: Collection[str]
) -> str:
    # Taken in one conditional update, so two copies of the status arriving together end the
    # delivery, and fall back, once.
    taken = await db.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery.id, col(Delivery.status) == "sent")
        .values(status="failed", provider_status="failed")
    )
    if taken.rowcount != 1:
        return "duplicate"
    await db.refresh(delivery)
    notification = await db.get(Notification, delivery.notification_id)
    assert notification is not None
    error = status.errors[0] if status.errors else None
    code = error.code if error else None
    reason = f"whatsapp {code}: {(error.title or error.message or '') if error else ''}"
    following = await fallback.give_up(
        db=db,
        delivery=delivery,
        notification=notification,
        status="failed",
        reason=reason.strip(),
        unreachable=code == UNDELIVERABLE,
        unconfigured=unconfigured,
    )
    log.warning(
        "whatsapp message failed",
        extra={
            "delivery": str(delivery.id),
            "code": code,
            "next_channel": following and following.channel,
        },
    )
    return "recorded"


def _when(status: MessageStatus) -> datetime:
    if status.timestamp and status.timestamp.isdigit():
        return datetime.fromtimestamp(int(status.timestamp), UTC)
    return utcnow()
