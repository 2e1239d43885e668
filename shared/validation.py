"""Field checks more than one service's payloads use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator

# Instants outside these bounds cannot be shown in every time zone (Python's datetime ends at
# year 9999) and mean nothing for a guidance session; refusing them keeps them out of storage.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC)


def check_timezone(value: str) -> str:
    """An IANA zone name: Asia/Jakarta (WIB), Asia/Makassar (WITA), Asia/Jayapura (WIT), ..."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Jakarta)") from exc
    return value


def check_instant(value: datetime | None) -> datetime | None:
    """An aware time within the range Lingkar stores (1970 to 9998, in UTC)."""
    if value is None:
        return None
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise ValueError("must lie between 1970-01-01 and 9999-01-01 (UTC)")
    return value


class Payload(BaseModel):
    """Base of request bodies: text never carries NUL characters (PostgreSQL cannot store them)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


def _has_nul(value: Any) -> bool:
    """NUL anywhere in a text, a list or a mapping (nested models check their own fields)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False
