"""Settings of the api service (`LINGKAR_*`)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import DEV_SECRET_KEY, ServiceSettings


class ApiSettings(ServiceSettings):
    service_name: ClassVar[str] = "api"

    api_database_url: str | None = None
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    access_token_ttl_seconds: int = 3600
    dev_client_id: str = "dev-admin"
    dev_client_secret: SecretStr = SecretStr("dev-secret")
    # A commit wakes the relay at once; the poll is for retries coming due (and for messages
    # another api process committed).
    outbox_poll_seconds: float = 1.0
    # Messages delivered at once by this process's relay (one at a time within a session's lane).
    outbox_concurrency: int = Field(default=16, ge=1, le=64)
    # How long a relay owns a message it took; after a crash, another takes it when this ends.
    outbox_lease_seconds: float = 60.0

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {**super().secrets_to_check(), "LINGKAR_SECRET_KEY": self.secret_key}

    @property
    def db_url(self) -> str:
        return self.resolved_database_url(self.api_database_url)


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
