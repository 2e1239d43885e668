"""The in-app inbox: every notification to a person, in their words, newest first.

An item shows once its notification's scheduled time has come and stops showing when the
notification is called off; its title and text are the email's, rendered for the reader.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.inbox.models import InboxItem
from services.notifications.notifications.models import Notification
from services.notifications.notifications.templates import render
from shared import cursors
from shared.contracts.notifications import InboxItem as InboxItemOut
from shared.contracts.notifications import InboxPage, InboxQuery, InboxRead, Recipient
from shared.problems import NotFound
from shared.timeutil import as_utc, utcnow

log = logging.getLogger("lingkar.inbox")


async def add_items(
    *, db: AsyncSession, notification: Notification, recipients: Sequence[Recipient]
) -> None:
    """One item per person the notification is for, shown from its scheduled time on."""
    people = {r.person_id: r for r in recipients}
    db.add_all(
        InboxItem(
            notification_id=notification.id,
            school_id=notification.school_id,
            person_id=person.person_id,
            person_name=person.name,
            locale=person.locale.value,
            timezone=person.timezone,
            visible_at=notification.deliver_after or notification.created_at,
        )
        for person in people.values()
    )
    await db.flush()


def _shown(school_id: uuid.UUID, person_id: uuid.UUID) -> tuple[Any, ...]:
    return (
        InboxItem.school_id == school_id,
        InboxItem.person_id == person_id,
        col(InboxItem.visible_at) <= utcnow(),
        col(Notification.cancelled_at).is_(None),
    )


def _shown_items(school_id: uuid.UUID, person_id: uuid.UUID) -> Any:
    return (
        select(InboxItem, Notification)
        .join(Notification, col(Notification.id) == col(InboxItem.notification_id))
        .where(*_shown(school_id, person_id))
    )


async def unread_count(*, db: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID) -> int:
    """How many items the person has not read yet."""
    query = (
        select(func.count())
        .select_from(InboxItem)
        .join(Notification, col(Notification.id) == col(InboxItem.notification_id))
        .where(*_shown(school_id, person_id), col(InboxItem.read_at).is_(None))
    )
    return int((await db.exec(query)).one())


async def page(
    *, db: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID, query: InboxQuery
) -> InboxPage:
    """One page of the person's inbox, newest first, with the unread count."""
    items = _shown_items(school_id, person_id).where(
        cursors.older_than(col(InboxItem.visible_at), col(InboxItem.id), query.cursor)
    )
    if query.unread:
        items = items.where(col(InboxItem.read_at).is_(None))
    items = items.order_by(col(InboxItem.visible_at).desc(), col(InboxItem.id).desc())
    rows = (await db.exec(items.limit(query.limit + 1))).all()
    shown, next_cursor = cursors.next_page(rows, query.limit, lambda r: (r[0].visible_at, r[0].id))
    return InboxPage(
        items=[_item_out(item, notification) for item, notification in shown],
        next_cursor=next_cursor,
        unread_count=await unread_count(db=db, school_id=school_id, person_id=person_id),
    )


def _item_out(item: InboxItem, notification: Notification) -> InboxItemOut:
    try:
        rendered = render(
            notification.event,
            notification.data,
            name=item.person_name,
            locale=item.locale,
            timezone=item.timezone,
        )
        title, text = rendered.subject, rendered.text
    except (KeyError, ValueError, TypeError):
        # The worker marks such a message dead; the inbox still says that something came.
        log.warning("inbox item cannot be rendered", extra={"notification": str(notification.id)})
        title, text = notification.event, ""
    return InboxItemOut(
        id=item.id,
        event=notification.event,
        session_id=notification.session_id,
        title=title,
        text=text,
        at=as_utc(item.visible_at),
        read_at=as_utc(item.read_at) if item.read_at else None,
    )


async def mark_read(
    *, db: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID, item_id: uuid.UUID
) -> InboxRead:
    """Mark one of the person's items read; another's, or a hidden one, is not found."""
    found = (
        await db.exec(_shown_items(school_id, person_id).where(InboxItem.id == item_id))
    ).first()
    if found is None:
        raise NotFound("no such inbox item")
    item = found[0]
    marked = 0
    if item.read_at is None:
        item.read_at, marked = utcnow(), 1
        db.add(item)
        await db.flush()
    count = await unread_count(db=db, school_id=school_id, person_id=person_id)
    return InboxRead(marked=marked, unread_count=count)


async def mark_all_read(
    *, db: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID
) -> InboxRead:
    """Mark every item the person can see read (scheduled ones not shown yet stay unread)."""
    live = select(Notification.id).where(col(Notification.cancelled_at).is_(None))
    result = await db.exec(
        update(InboxItem)
        .where(
            col(InboxItem.school_id) == school_id,
            col(InboxItem.person_id) == person_id,
            col(InboxItem.visible_at) <= utcnow(),
            col(InboxItem.read_at).is_(None),
            col(InboxItem.notification_id).in_(live),
        )
        .values(read_at=utcnow())
    )
    count = await unread_count(db=db, school_id=school_id, person_id=person_id)
    return InboxRead(marked=result.rowcount, unread_count=count)
