"""What Google answers, in the words of the school admin who can fix it.

A refused Calendar call (`api_error`) or a refused sign-in of the service account
(`sign_in_error`) becomes a provider error saying what to change and where (the Cloud console,
the Admin console's domain-wide delegation), or that Google is busy and the call may be tried
again. Neither the key nor a token is ever put in one.
"""

from __future__ import annotations

import logging

from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from services.meetings.providers.errors import ProviderError, ProviderRefused, ProviderUnavailable

log = logging.getLogger("lingkar.meetings.google_meet")

PROVIDER = "google_meet"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
UNAVAILABLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError"})
DISABLED_API_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})


def _reasons(exc: HttpError) -> set[str]:
    details = exc.error_details if isinstance(exc.error_details, list) else []
    return {str(d.get("reason")) for d in details if isinstance(d, dict) and d.get("reason")}


def api_error(exc: HttpError, subject: str | None) -> ProviderError:
    status, reasons = exc.status_code, _reasons(exc)
    log.warning("google calendar refused", extra={"status": status, "reasons": sorted(reasons)})
    if status == 429 or status >= 500 or reasons & UNAVAILABLE_REASONS:
        return ProviderUnavailable(
            "Google Calendar is busy or down; try again later", provider=PROVIDER
        )
    if reasons & DISABLED_API_REASONS:
        return ProviderRefused(
            "the Google Calendar API is not enabled in the service account's Google Cloud "
            "project: enable it in the Cloud console (APIs & Services > Library)",
            provider=PROVIDER,
        )
    if status in (401, 403):
        return ProviderRefused(
            f"Google Calendar does not let Lingkar act for {subject or 'the service account'}: "
            f"check the domain-wide delegation scopes ({CALENDAR_SCOPE})",
            provider=PROVIDER,
        )
    if status == 404:
        return ProviderRefused(
            f"{subject or 'the service account'} has no Google Calendar: check that Calendar "
            "is turned on for them in the Admin console",
            provider=PROVIDER,
        )
    return ProviderError(
        f"Google Calendar refused the meeting ({status}: {exc.reason[:200]})", provider=PROVIDER
    )


def sign_in_error(exc: RefreshError, subject: str | None, client_id: str) -> ProviderError:
    code = _oauth_error_code(exc)
    log.warning("google sign-in refused", extra={"oauth_error": code})
    if code == "unauthorized_client":
        return ProviderRefused(
            "the Google Workspace admin has not authorised Lingkar's service account for "
            f"domain-wide delegation: add its client id {client_id} with the scope "
            f"{CALENDAR_SCOPE} in Admin console > Security > API controls > "
            "Domain-wide delegation",
            provider=PROVIDER,
        )
    if code == "invalid_grant":
        who = f"the counselor's Google account {subject} does not exist in the school's Workspace"
        return ProviderRefused(
            f"{who if subject else 'Google refused the service account'}, or the service "
            "account key is wrong (deleted or revoked in the Google Cloud console)",
            provider=PROVIDER,
        )
    if exc.retryable:
        return ProviderUnavailable(
            "Google sign-in is not answering; try again later", provider=PROVIDER
        )
    return ProviderRefused(
        f"Google refused Lingkar's service account sign-in ({code or 'no reason given'})",
        provider=PROVIDER,
    )


def _oauth_error_code(exc: RefreshError) -> str | None:
    """The OAuth `error` of a refused token request: from the answer, else the message."""
    if len(exc.args) > 1 and isinstance(exc.args[1], dict):
        return str(exc.args[1].get("error") or "") or None
    message = str(exc.args[0]) if exc.args else ""
    for code in ("unauthorized_client", "invalid_grant", "invalid_scope", "access_denied"):
        if code in message:
            return code
    return None
