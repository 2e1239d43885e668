"""The settings every service shares; each service subclasses `ServiceSettings`.

All come from the environment with the `LINGKAR_` prefix. Outside dev and test mode the
placeholder secrets below are refused at start, so a real deployment cannot run on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0000000000"  # noqa: S105
DEV_SERVICE_SECRET = "dev-insecure-service-secret-change-me-00000"  # noqa: S105
PLACEHOLDER_SECRETS = frozenset(
    {
        DEV_SECRET_KEY,
        DEV_SERVICE_SECRET,
        "changethis",
        "",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # the dev provider-secrets key
    }
)
MIN_SECRET_LENGTH = 32
# The services, each with `<name>_port` and `<name>_internal_url` below.
INTERNAL_SERVICES = ("api", "meetings", "notifications")

Environment = Literal["dev", "test", "production"]


class ServiceSettings(BaseSettings):
    """Settings common to the three services."""

    model_config = SettingsConfigDict(env_prefix="LINGKAR_", extra="ignore")

    service_name: ClassVar[str] = "lingkar"

    env: Environment = "production"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    data_dir: Path = Path("var")
    # One URL for all three services (each gets its own PostgreSQL schema) unless a service has
    # its own `LINGKAR_<SERVICE>_DATABASE_URL`; without either, a SQLite file under `data_dir`.
    database_url: str | None = None
    # How long a request waits for a database connection (PostgreSQL), a new one or a free one
    # of the pool, before it is told 503: an unreachable server or a pool kept busy costs a
    # request this long, never a hang.
    database_connect_timeout_seconds: float = 5.0
    # PostgreSQL connections each service process keeps open (and never more): lower it when
    # many replicas share one server's `max_connections`. One event loop keeps 10 busy; more
    # only hold more copies of the prepared statements (shared.db.FairQueue).
    database_pool_size: int = Field(default=10, ge=1, le=500)

    api_port: int = 8000
    meetings_port: int = 8001
    notifications_port: int = 8002
    # Where the services reach each other (INTERNAL_SERVICES); derived from host and ports
    # unless set.
    api_internal_url: str | None = None
    meetings_internal_url: str | None = None
    notifications_internal_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    service_secret: SecretStr = SecretStr(DEV_SERVICE_SECRET)
    service_token_ttl_seconds: int = 60
    outside_call_timeout_seconds: float = 10.0
    # Once started, move what start-up made out of the cyclic collector's way (`gc.freeze`):
    # hundreds of thousands of long-lived objects (routes, models, the ORM's tables) it would
    # otherwise walk at every full collection, mid-request. Off in the in-process tests, which
    # start many apps in one interpreter and would keep each one's cycles.
    gc_freeze_after_start: bool = True

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    def secrets_to_check(self) -> dict[str, SecretStr]:
        """Secrets that must not be placeholders outside dev; services add their own."""
        return {"LINGKAR_SERVICE_SECRET": self.service_secret}

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.is_dev:
            return self
        weak = [
            name
            for name, secret in self.secrets_to_check().items()
            if secret.get_secret_value() in PLACEHOLDER_SECRETS
            or len(secret.get_secret_value()) < MIN_SECRET_LENGTH
        ]
        if weak:
            raise ValueError(
                f"{', '.join(weak)} must be set to a secret of at least {MIN_SECRET_LENGTH} "
                f"characters outside dev mode (LINGKAR_ENV={self.env})"
            )
        return self

    def internal_url(self, service: str) -> str:
        explicit = getattr(self, f"{service}_internal_url")
        if explicit:
            return str(explicit).rstrip("/")
        return f"http://{self._loopback_host()}:{getattr(self, f'{service}_port')}"

    @property
    def internal_tls(self) -> bool:
        """Whether any service is reached over HTTPS (a scheme in any case)."""
        return any(
            self.internal_url(name).lower().startswith("https:") for name in INTERNAL_SERVICES
        )

    def _loopback_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    @property
    def port(self) -> int:
        return int(getattr(self, f"{self.service_name}_port"))

    def resolved_database_url(self, own_url: str | None) -> str:
        url = own_url or self.database_url
        if url:
            return url
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"
