"""Addresses that cannot reach their person: recorded once, never tried again."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.contacts.models import UnreachableContact
from services.notifications.notifications.models import Delivery

Address = tuple[str, str]  # (channel, address)


async def unreachable_for(
    *, db: AsyncSession, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[Address]]:
    """Per person, the (channel, address) pairs known not to reach them."""
    rows = await db.exec(
        select(UnreachableContact).where(col(UnreachableContact.person_id).in_(list(person_ids)))
    )
    found: dict[uuid.UUID, set[Address]] = defaultdict(set)
    for row in rows.all():
        found[row.person_id].add((row.channel, row.address))
    return found


async def record(*, db: AsyncSession, delivery: Delivery, reason: str) -> bool:
    """Keep that the delivery's address cannot reach its person; False if already known."""
    known = await unreachable_for(db=db, person_ids=[delivery.person_id])
    if (delivery.channel, delivery.address) in known[delivery.person_id]:
        return False
    row = UnreachableContact(
        school_id=delivery.school_id,
        person_id=delivery.person_id,
        channel=delivery.channel,
        address=delivery.address,
        reason=reason[:500],
        delivery_id=delivery.id,
    )
    try:
        # Another worker may record the same address at the same moment: one of them wins.
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return False
    return True
