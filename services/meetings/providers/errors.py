"""What a provider call can end in, said so a school admin or a counselor can act on it.

Each error names the provider (`provider=`, also the `provider` field of the problem body) when
the adapter knows it, and the reason; none carries a secret, a token or a host link.
"""

from __future__ import annotations

from typing import Any

from shared.problems import DomainError


class ProviderError(DomainError):
    """The provider refused or failed a call in a way not covered by a subclass."""

    status, type, title = 502, "provider-error", "Provider error"

    def __init__(
        self, detail: str | None = None, *, provider: str | None = None, **extensions: Any
    ) -> None:
        if provider:
            extensions["provider"] = provider
        super().__init__(detail, **extensions)
        self.provider = provider


class ProviderUnavailable(ProviderError):
    """Down, rate-limited or out of quota after the retries: nothing was done, try later."""

    status, type, title = 503, "provider-unavailable", "Provider unavailable"


class ProviderCallUncertain(ProviderError):
    """The call may or may not have taken effect (it timed out after being sent): the caller
    must find out (reconcile) before calling again, or it may make a second meeting."""

    status, type, title = 503, "provider-call-uncertain", "Provider call uncertain"


class ProviderRefused(ProviderError):
    """The school's provider account does not allow this: wrong credentials, an unreadable key,
    a missing scope, a host user that does not exist. A school admin fixes it in the school's
    provider settings."""

    status, type, title = 409, "provider-refused", "Provider refused"


class ProviderMeetingGone(ProviderError):
    """The provider no longer has the meeting (deleted there by hand, say)."""

    status, type, title = 409, "provider-meeting-gone", "Provider meeting gone"


class ProviderMeetingInProgress(ProviderError):
    """The meeting is running at the provider and cannot be changed or deleted now."""

    status, type, title = 409, "provider-meeting-in-progress", "Provider meeting in progress"
