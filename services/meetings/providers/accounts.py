"""A school's credentials for each provider, as the adapters receive them.

They are stored encrypted by the meetings service (see `accounts/`), decrypted only to build an
adapter for one call, and never returned, logged or put in an error body. `repr` hides secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ZoomAccount:
    """A Zoom Server-to-Server OAuth app of the school."""

    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    host_user: str = "me"  # "me" or the email of the Zoom user who hosts
    webhook_secret_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class GoogleMeetAccount:
    """A Google Workspace service account with domain-wide delegation."""

    service_account_info: dict[str, Any] = field(repr=False)
    impersonate_domain_users: bool = True


@dataclass(frozen=True)
class JitsiAccount:
    """A school's own Jitsi server; with token auth when app_id and app_secret are set."""

    server_url: str
    app_id: str | None = None
    app_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class JaasAccount:
    """8x8 Jitsi as a Service."""

    app_id: str  # vpaas-magic-cookie-...
    key_id: str  # the API key's id; the JWT header's kid is f"{app_id}/{key_id}"
    private_key: str = field(repr=False)  # PEM, RS256
    features: dict[str, bool] = field(default_factory=dict)  # what the school allows
