"""Settings of the meetings service (`LINGKAR_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from shared.secret_box import DEV_SECRETS_KEY
from shared.settings import ServiceSettings

DEV_PROVIDER_SECRETS_KEY = DEV_SECRETS_KEY


class MeetingsSettings(ServiceSettings):
    service_name: ClassVar[str] = "meetings"

    meetings_database_url: str | None = None
    # Where members' gated links (/j/{token}) point: the meetings service as people reach it.
    meetings_public_url: str = "http://127.0.0.1:8001"
    jitsi_default_url: str = "https://meet.jit.si"
    zoom_oauth_url: str = "https://zoom.us"
    zoom_api_url: str = "https://api.zoom.us/v2"
    # Fernet keys (comma-separated, newest first, for rotation) that encrypt schools' provider
    # secrets at rest. The dev default is a known placeholder, refused outside dev mode.
    provider_secrets_key: SecretStr = SecretStr(DEV_PROVIDER_SECRETS_KEY)
    # How long an attempt to create a provider meeting is taken to be under way: a request for
    # the same meeting meanwhile is told to come back (503); after it, the attempt is presumed
    # dead (a crash) and the next request asks the provider what it made before creating.
    provider_attempt_seconds: float = 300.0
    # How long such a request waits for the attempt under way to end before it gets the 503:
    # two deliveries of one request at once (a retry racing the first) then get one answer.
    provider_attempt_wait_seconds: float = 5.0

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {
            **super().secrets_to_check(),
            "LINGKAR_PROVIDER_SECRETS_KEY": self.provider_secrets_key,
        }

    @property
    def db_url(self) -> str:
        return self.resolved_database_url(self.meetings_database_url)
