"""Opaque keyset cursors: the (time, id) of the last row a page showed.

A page that continues after that pair costs the same however many rows exist, and rows added
meanwhile never make a row appear twice or go missing.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_, true

from shared.problems import InvalidInput
from shared.timeutil import as_utc

RowT = TypeVar("RowT")


def encode(at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([as_utc(at).isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The pair back, or a 422 naming `cursor` when it is not one we gave out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return as_utc(datetime.fromisoformat(at)), uuid.UUID(row_id)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InvalidInput("cursor", "not a cursor this API gave out") from exc


def older_than(at: Any, row_id: Any, cursor: str | None) -> Any:
    """The condition of a newest-first page that continues after `cursor` (true without one)."""
    if not cursor:
        return true()
    after_at, after_id = decode(cursor)
    return or_(at < after_at, and_(at == after_at, row_id < after_id))


def next_page(
    rows: Sequence[RowT], limit: int, key: Callable[[RowT], tuple[datetime, uuid.UUID]]
) -> tuple[list[RowT], str | None]:
    """The first `limit` rows of `limit + 1` fetched, and the cursor of the next page if any."""
    shown = list(rows[:limit])
    more = len(rows) > limit and shown
    return shown, encode(*key(shown[-1])) if more else None
