"""Schools' webhook subscriptions, and the messages each accepted notification makes for them.

A subscription's signing secret is sealed (shared.secret_box) the moment it is made and opened
only to sign; it is handed back once, in the answer that made it (create, rotate).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Notification
from services.notifications.webhooks import destinations, payloads, signing
from services.notifications.webhooks.models import WebhookMessage, WebhookSubscription
from shared import cursors, queue
from shared.contracts.webhooks import (
    WEBHOOK_TEST,
    WebhookMessageOut,
    WebhookMessagePage,
    WebhookMessageQuery,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionWithSecret,
    WebhookTestQueued,
)
from shared.problems import Conflict, InvalidInput, NotFound
from shared.secret_box import SecretBox
from shared.timeutil import as_utc, utcnow


class SubscriptionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no such webhook subscription in this school")


def public(subscription: WebhookSubscription) -> WebhookSubscriptionOut:
    """What a school admin sees of a subscription: everything but its secrets."""
    return WebhookSubscriptionOut.model_validate(subscription, from_attributes=True)


def _with_secret(subscription: WebhookSubscription, secret: str) -> WebhookSubscriptionWithSecret:
    return WebhookSubscriptionWithSecret(**public(subscription).model_dump(), secret=secret)


async def _public_destination(url: str, *, allow_private: bool) -> None:
    try:
        await destinations.check(url, allow_private=allow_private)
    except destinations.DestinationRefused as exc:
        raise InvalidInput("url", str(exc)) from exc


async def create(
    *,
    db: AsyncSession,
    box: SecretBox,
    school_id: uuid.UUID,
    data: WebhookSubscriptionIn,
    allow_private: bool,
) -> WebhookSubscriptionWithSecret:
    """Subscribe a school's endpoint; the answer carries its new secret, this once."""
    await _public_destination(data.url, allow_private=allow_private)
    secret = signing.new_secret()
    subscription = WebhookSubscription(
        school_id=school_id,
        url=data.url,
        events=data.events,
        description=data.description,
        sealed_secret=box.seal({"secret": secret}),
    )
    db.add(subscription)
    await db.flush()
    return _with_secret(subscription, secret)


async def find(
    *, db: AsyncSession, school_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """The school's subscription, or `SubscriptionNotFound` (another school's is not found)."""
    subscription = await db.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.school_id != school_id:
        raise SubscriptionNotFound()
    return subscription


async def list_for(*, db: AsyncSession, school_id: uuid.UUID) -> list[WebhookSubscriptionOut]:
    """The school's subscriptions, oldest first, without secrets."""
    rows = await db.exec(
        select(WebhookSubscription)
        .where(WebhookSubscription.school_id == school_id)
        .order_by(WebhookSubscription.created_at)  # type: ignore[arg-type]
    )
    return [public(s) for s in rows.all()]


async def update(
    *,
    db: AsyncSession,
    subscription: WebhookSubscription,
    data: WebhookSubscriptionUpdate,
    allow_private: bool,
) -> WebhookSubscriptionOut:
    """Change the fields given; a new URL is checked as a new subscription's would be."""
    # Only a description can be emptied; a null url, events or enabled means "leave it".
    changes = {
        name: value
        for name, value in data.model_dump(exclude_unset=True).items()
        if value is not None or name == "description"
    }
    if "url" in changes:
        await _public_destination(changes["url"], allow_private=allow_private)
    for name, value in changes.items():
        setattr(subscription, name, value)
    if changes.get("enabled"):
        subscription.disabled_reason, subscription.disabled_at = None, None
    subscription.updated_at = utcnow()
    db.add(subscription)
    await db.flush()
    return public(subscription)


async def remove(*, db: AsyncSession, subscription: WebhookSubscription) -> None:
    """Unsubscribe: the messages still on their way to it are dropped with it."""
    messages = delete(WebhookMessage).where(col(WebhookMessage.subscription_id) == subscription.id)
    await db.exec(messages)
    await db.delete(subscription)
    await db.flush()


async def rotate(
    *, db: AsyncSession, box: SecretBox, subscription: WebhookSubscription, grace: timedelta
) -> WebhookSubscriptionWithSecret:
    """A new secret, shown once; the current one keeps signing too until `grace` has passed."""
    secret = signing.new_secret()
    subscription.sealed_previous_secret = subscription.sealed_secret
    subscription.previous_secret_expires_at = utcnow() + grace
    subscription.sealed_secret = box.seal({"secret": secret})
    subscription.updated_at = utcnow()
    db.add(subscription)
    await db.flush()
    return _with_secret(subscription, secret)


def live_secrets(box: SecretBox, subscription: WebhookSubscription, *, now: datetime) -> list[str]:
    """The secrets that sign a message sent now: the current one, and the old during its grace."""
    found = [str(box.open(subscription.sealed_secret)["secret"])]
    until = subscription.previous_secret_expires_at
    if subscription.sealed_previous_secret and until and now < as_utc(until):
        found.append(str(box.open(subscription.sealed_previous_secret)["secret"]))
    return found


async def send_test(*, db: AsyncSession, subscription: WebhookSubscription) -> WebhookTestQueued:
    """Queue a `webhook.test` message to this subscription, whatever its filter says."""
    message = WebhookMessage(
        subscription_id=subscription.id,
        school_id=subscription.school_id,
        event=WEBHOOK_TEST,
        payload=payloads.for_test(
            school_id=subscription.school_id, subscription_id=subscription.id, at=utcnow()
        ),
    )
    db.add(message)
    await db.flush()
    return WebhookTestQueued(webhook_id=message.webhook_id)


def message_public(message: WebhookMessage) -> WebhookMessageOut:
    return WebhookMessageOut(
        webhook_id=message.webhook_id,
        event=message.event,
        status=message.status,  # the column holds only these
        attempts=message.attempts,
        last_status=message.last_status,
        last_error=message.last_error,
        next_attempt_at=as_utc(message.next_attempt_at) if message.status == "pending" else None,
        sent_at=as_utc(message.sent_at) if message.sent_at else None,
        created_at=as_utc(message.created_at),
    )


async def messages_page(
    *, db: AsyncSession, subscription: WebhookSubscription, query: WebhookMessageQuery
) -> WebhookMessagePage:
    """The subscription's messages, newest first (optionally of one status)."""
    m = WebhookMessage
    statement = select(m).where(m.subscription_id == subscription.id)
    if query.status is not None:
        statement = statement.where(m.status == query.status)
    rows = await db.exec(
        statement.where(cursors.older_than(col(m.created_at), col(m.id), query.cursor))
        .order_by(col(m.created_at).desc(), col(m.id).desc())
        .limit(query.limit + 1)
    )
    shown, next_cursor = cursors.next_page(rows.all(), query.limit, lambda r: (r.created_at, r.id))
    return WebhookMessagePage(items=[message_public(r) for r in shown], next_cursor=next_cursor)


async def redeliver(
    *, db: AsyncSession, subscription: WebhookSubscription, webhook_id: str
) -> WebhookMessageOut:
    """Send a dead message again, with the same `webhook-id` and a fresh run of tries."""
    prefix, _, hex_id = webhook_id.partition("_")
    try:
        message_id = uuid.UUID(hex=hex_id) if prefix == "msg" else None
    except ValueError:
        message_id = None
    message = await db.get(WebhookMessage, message_id) if message_id else None
    if message is None or message.subscription_id != subscription.id:
        raise NotFound("no such webhook message for this subscription")
    if not subscription.enabled:
        raise Conflict("the subscription is disabled; enable it (PATCH enabled: true) first")
    if queue.send_again(message, what="message", now=utcnow()):
        db.add(message)
        await db.flush()
    return message_public(message)


async def announce(
    *, db: AsyncSession, notification: Notification, recipient_ids: Sequence[uuid.UUID]
) -> int:
    """One message per enabled subscription of the school that asked for this event."""
    rows = await db.exec(
        select(WebhookSubscription).where(
            WebhookSubscription.school_id == notification.school_id,
            WebhookSubscription.enabled == True,  # noqa: E712 - a SQL comparison
        )
    )
    wanted = [s for s in rows.all() if notification.event in s.events]
    payload = payloads.for_notification(notification, recipient_ids)
    db.add_all(
        WebhookMessage(
            subscription_id=s.id,
            school_id=s.school_id,
            notification_id=notification.id,
            event=notification.event,
            payload=payload,
            # A scheduled notification (a reminder) is told of when it is due, not before.
            next_attempt_at=notification.deliver_after or utcnow(),
        )
        for s in wanted
    )
    await db.flush()
    return len(wanted)
