"""Field checks more than one service's payloads use."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_timezone(value: str) -> str:
    """An IANA zone name: Asia/Jakarta (WIB), Asia/Makassar (WITA), Asia/Jayapura (WIT), ..."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Jakarta)") from exc
    return value
