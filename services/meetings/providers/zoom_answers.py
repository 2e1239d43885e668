"""What Zoom's answers mean: its error codes, the forms of its `Retry-After`, and its refusals
in words a school admin can act on (the Zoom adapter's calls are in `zoom.py`)."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.meetings.providers.errors import (
    ProviderCallUncertain,
    ProviderError,
    ProviderMeetingGone,
    ProviderMeetingInProgress,
    ProviderRefused,
)
from shared.timeutil import as_utc

PROVIDER = "zoom"

# Zoom's own error codes (the `code` of its JSON error body).
TOKEN_EXPIRED = 124
VALIDATION_FAILED = 300
USER_NOT_FOUND = 1001
MEETING_NOT_FOUND = 3001
MEETING_IN_PROGRESS = 3002
NOT_MEETING_HOST = 3003
MISSING_SCOPE = 4711

CREDENTIALS_REFUSED = (
    "the Zoom app credentials were refused: check the account ID, client ID and client secret "
    "of the school's Zoom Server-to-Server OAuth app"
)
STILL_EXPIRED = (
    "Zoom refused a new access token of the school's Zoom app as expired; check that the app "
    "is activated and that this server's clock is right"
)
DAILY_LIMIT = (
    "the Zoom host user has reached Zoom's limit of 100 meetings created or changed a day; "
    "it resets at 00:00 UTC (07:00 WIB). Try again then, or set another Zoom host user"
)


def zoom_code(answer: httpx.Response) -> int | None:
    try:
        code = answer.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def zoom_message(answer: httpx.Response) -> str:
    try:
        message = answer.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return str(message or "")[:200]


def zoom_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def daily_limit(answer: httpx.Response) -> bool:
    kind = answer.headers.get("X-RateLimit-Type", "")
    return "daily" in kind.lower() or "daily rate limit" in zoom_message(answer).lower()


def has_meeting(answer: httpx.Response) -> bool:
    try:
        return "id" in answer.json()
    except (ValueError, AttributeError):
        return False


def seconds_until(value: str, now: float) -> float | None:
    """`Retry-After` as seconds, an HTTP date or (as Zoom sometimes sends) an ISO timestamp."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment: datetime | None = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = zoom_instant(value)
    return None if moment is None else max(0.0, as_utc(moment).timestamp() - now)


def unreachable(call: str, exc: httpx.TransportError, *, resend: bool) -> str:
    """Why Zoom could not be reached; raises when the request may have arrived and must not
    be sent again. Connecting failed means nothing was sent."""
    if not resend and not isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    ):
        raise ProviderCallUncertain(
            f"Zoom did not answer the {call} in time ({type(exc).__name__}); "
            "the meeting may or may not exist",
            provider=PROVIDER,
        ) from exc
    return f"Zoom could not be reached for the {call} ({type(exc).__name__})"


def gave_up(call: str, answer: httpx.Response) -> str:
    if answer.status_code == 429:
        return f"Zoom kept asking us to slow down; the {call} was not done"
    return f"Zoom kept failing the {call} (HTTP {answer.status_code})"


# Zoom's final "no" per code, in words a school admin can act on; `{zoom}` is Zoom's message.
_REFUSALS: dict[int, tuple[type[ProviderError], str]] = {
    MEETING_NOT_FOUND: (
        ProviderMeetingGone,
        "the Zoom meeting no longer exists (was it deleted in Zoom?)",
    ),
    MEETING_IN_PROGRESS: (
        ProviderMeetingInProgress,
        "the Zoom meeting is in progress; end it in Zoom first",
    ),
    NOT_MEETING_HOST: (
        ProviderRefused,
        "the Zoom host user in the school's settings is not this meeting's host "
        "(was the host user changed?)",
    ),
    USER_NOT_FOUND: (
        ProviderRefused,
        "the Zoom host user in the school's settings does not exist in that Zoom account",
    ),
    MISSING_SCOPE: (
        ProviderRefused,
        "the school's Zoom app lacks a permission (scope) it needs: {zoom}",
    ),
    VALIDATION_FAILED: (ProviderError, "Zoom refused the meeting's details: {zoom}"),
}


def refusal(call: str, answer: httpx.Response) -> ProviderError:
    code, status = zoom_code(answer), answer.status_code
    if status == 401 and code == TOKEN_EXPIRED:
        return ProviderRefused(STILL_EXPIRED, provider=PROVIDER, zoom_code=code)
    if status == 401:
        return ProviderRefused(CREDENTIALS_REFUSED, provider=PROVIDER, zoom_code=code)
    if code in _REFUSALS:
        error, message = _REFUSALS[code]
        return error(message.format(zoom=zoom_message(answer)), provider=PROVIDER, zoom_code=code)
    return ProviderError(
        f"Zoom refused the {call} (HTTP {status}, code {code})", provider=PROVIDER, zoom_code=code
    )
