"""Durable work queues kept in a service's own tables (the api outbox, notification deliveries).

A row is due when it is `pending`, its `next_attempt_at` has come and no live lease holds it.
A claimer takes a lease on a batch in one short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers never take the same row; SQLite serialises writers itself),
does the work outside it, then records the outcome. A worker that dies leaves a lease that
simply expires: the row is taken again, and the receiver's idempotency key stops a double.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, bindparam, func, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jitter import equal_jitter
from shared.problems import Conflict


class QueueRow(Protocol):
    id: Any
    status: str
    attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None


class Claim:
    """How due rows of one queue table are leased: its two statements, built once.

    Built anew at every claim, the statements cost more CPU than running them (the outbox
    relay claims after every commit that enqueues and every delivery that ends: building its
    lane condition alone was a fifth of the relay's CPU); built once, SQLAlchemy also reuses
    their compiled forms. `also`: further conditions a row must meet to be taken (checked
    again when leasing). `whole_rows`: the leased rows are returned loaded, not their ids, so
    a claimer that needs them reads nothing more before its work."""

    def __init__(
        self,
        model: type[Any],
        *,
        also: Sequence[ColumnElement[bool]] = (),
        whole_rows: bool = False,
    ) -> None:
        table: Any = model
        returned = table if whole_rows else table.id
        at = table.next_attempt_at.type
        now = bindparam("now", type_=at)
        is_due = (
            table.status == "pending",
            table.next_attempt_at <= now,
            or_(table.locked_until.is_(None), table.locked_until < now),
            *also,
        )
        due = (
            select(table.id)
            .where(*is_due)
            .order_by(table.next_attempt_at)
            .limit(bindparam("limit", type_=Integer))
        )
        self._due = due
        leased = {
            "locked_until": bindparam("until", type_=table.locked_until.type),
            "locked_by": bindparam("worker", type_=table.locked_by.type),
        }
        # PostgreSQL: one statement takes the due rows no other claimer holds and leases them.
        self._take_and_lease = (
            update(table)
            .where(col(table.id).in_(due.with_for_update(skip_locked=True)))
            .values(**leased)
            .returning(returned, table.next_attempt_at)
            # Nothing of these rows is loaded in the session that claims (and the WHERE cannot
            # be evaluated in Python against bind parameters anyway).
            .execution_options(synchronize_session=False)
        )
        # SQLite: the due rows, then a lease on those still due (see `__call__`).
        self._lease = (
            update(table)
            .where(col(table.id).in_(bindparam("ids", expanding=True)), *is_due)
            .values(**leased)
            .returning(table.id, returned)
            .execution_options(synchronize_session=False)
        )

    async def __call__(
        self, session: AsyncSession, *, now: datetime, lease: timedelta, limit: int, worker: str
    ) -> list[Any]:
        """Lease up to `limit` due rows to `worker` and return their ids (or the rows), oldest
        first (commit afterwards)."""
        params = {"now": now, "limit": limit, "until": now + lease, "worker": worker}
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            rows = (await session.exec(self._take_and_lease, params=params)).all()
            # RETURNING keeps no order; a calendar CANCEL must not overtake its REQUEST.
            return [taken for taken, _ in sorted(rows, key=lambda row: row[1])]
        ids = list((await session.exec(self._due, params={"now": now, "limit": limit})).all())
        if not ids:
            return []
        # Lease only the rows that are still due, and return those: SQLite takes no row lock on
        # SELECT, so another claimer may have leased some of them since; both must not get them.
        leased = await session.exec(self._lease, params={**params, "ids": ids})
        # Oldest first, as selected: RETURNING keeps no order, and a calendar CANCEL must not
        # overtake the REQUEST it follows.
        taken = {row_id: row for row_id, row in leased.all()}
        return [taken[row_id] for row_id in ids if row_id in taken]


async def counts_by_state(
    session: AsyncSession, model: type[Any], *, now: datetime, by: Sequence[Any] = ()
) -> dict[tuple[Any, ...], int]:
    """How many rows are still to do, due now or scheduled for later, and how many were given
    up on: keyed by the values of the `by` columns, then `due`, `scheduled` or `dead`."""
    table: Any = model
    due = table.next_attempt_at <= now
    connection = await session.connection()  # Core rows: what the counts are read from
    rows = await connection.execute(
        core_select(*by, table.status, due, func.count())
        .where(col(table.status).in_(["pending", "dead"]))
        .group_by(*by, table.status, due)
    )
    found: dict[tuple[Any, ...], int] = {}
    for *keys, status, is_due, n in rows.all():
        key = (*keys, "dead" if status == "dead" else "due" if is_due else "scheduled")
        found[key] = found.get(key, 0) + n
    return found


def backoff(attempt: int, *, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff with jitter: the n-th retry waits half to all of base·2ⁿ, capped."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return timedelta(seconds=equal_jitter(ceiling))


def send_again(row: QueueRow, *, what: str, now: datetime) -> bool:
    """A dead row back to pending with a fresh run of tries (the worker counts tries against
    its limit); True if it changed. A pending one is on its way already (the call repeated):
    False. Anything else (sent, cancelled) is not sent again: `Conflict`."""
    if row.status == "dead":
        row.status, row.attempts = "pending", 0
        row.next_attempt_at, row.locked_until = now, None
        return True
    if row.status != "pending":
        raise Conflict(f"only a dead {what} can be sent again; this one is {row.status}")
    return False
