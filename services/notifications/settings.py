"""Settings of the notifications service and its worker (`LINGKAR_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import SecretStr, model_validator

from shared.secret_box import DEV_SECRETS_KEY
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"

    notifications_database_url: str | None = None
    # Without an SMTP host, email goes to .eml files here (the embedded default of `make run`).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "Lingkar <no-reply@lingkar.local>"
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_spool_dir: Path | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # The operator's bot (from @BotFather); it sits in the URL's path, so no URL is ever logged.
    telegram_bot_token: SecretStr | None = None
    whatsapp_api_url: str = "https://graph.facebook.com/v21.0"
    # The operator's WhatsApp Business number and a system user's token for the Cloud API.
    whatsapp_phone_number_id: str | None = None
    whatsapp_access_token: SecretStr | None = None
    # The Meta app's secret, which signs the status webhooks, and the token Meta echoes when the
    # webhook is set up (GET with hub.verify_token).
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    worker_poll_seconds: float = 1.0
    worker_batch_size: int = 50
    # How long a worker owns a delivery it took; after a crash, another takes it when this ends.
    worker_lease_seconds: float = 120.0
    # Fernet keys (comma-separated, newest first) that encrypt webhook signing secrets at rest;
    # the dev default is a known placeholder, refused outside dev mode.
    webhook_secrets_key: SecretStr = SecretStr(DEV_SECRETS_KEY)
    # Webhooks go to public addresses only (no loopback, private, link-local, ... networks):
    # a school admin must not make Lingkar call into the operator's own network.
    webhook_allow_private_networks: bool = False
    webhook_timeout_seconds: float = 10.0
    # After a rotation the old secret signs too, for this long, while receivers switch.
    webhook_rotation_grace_seconds: float = 24 * 3600.0

    @model_validator(mode="after")
    def _mail_goes_somewhere_real(self) -> NotificationsSettings:
        # Spooling to files is the embedded default; in production it would lose mail quietly.
        if not self.is_dev and not self.smtp_host and self.mail_spool_dir is None:
            raise ValueError(
                "set LINGKAR_SMTP_HOST outside dev mode "
                "(or LINGKAR_MAIL_SPOOL_DIR to keep mail in files on purpose)"
            )
        return self

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {
            **super().secrets_to_check(),
            "LINGKAR_WEBHOOK_SECRETS_KEY": self.webhook_secrets_key,
        }

    @property
    def unconfigured_channels(self) -> frozenset[str]:
        """Channels this deployment cannot send on (email always can: SMTP or the spool)."""
        missing = set()
        if not self.telegram_bot_token:
            missing.add("telegram")
        if not (self.whatsapp_access_token and self.whatsapp_phone_number_id):
            missing.add("whatsapp")
        return frozenset(missing)

    @property
    def db_url(self) -> str:
        return self.resolved_database_url(self.notifications_database_url)

    @property
    def spool_dir(self) -> Path:
        return self.mail_spool_dir or self.data_dir / "mail"
