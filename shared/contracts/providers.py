"""A school's provider accounts, as the api passes them to the meetings service.

Secret fields are write-only: they travel once, to be encrypted at rest by the meetings service,
and no answer, log line or error body ever carries them back.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field, SecretStr, field_validator, model_validator

from shared.validation import Payload


class ZoomAccountIn(Payload):
    account_id: str = Field(min_length=1, max_length=100)
    client_id: str = Field(min_length=1, max_length=100)
    client_secret: SecretStr = Field(min_length=1, max_length=200)
    host_user: Literal["me"] | EmailStr = Field(default="me", description='"me" or an email')
    webhook_secret_token: SecretStr | None = Field(default=None, max_length=200)


class GoogleMeetAccountIn(Payload):
    service_account_json: SecretStr = Field(description="The service account's key file, as text")
    impersonate_domain_users: bool = True

    @field_validator("service_account_json")
    @classmethod
    def _a_service_account_key(cls, value: SecretStr) -> SecretStr:
        try:
            info = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError("must be the service account key file (JSON)") from None
        needed = {"type", "client_email", "private_key", "token_uri"}
        if (
            not isinstance(info, dict)
            or info.get("type") != "service_account"
            or not needed <= set(info)
        ):
            raise ValueError("must be a service account key with client_email and private_key")
        return value


MIN_JITSI_APP_SECRET = 32


class JitsiAccountIn(Payload):
    """A self-hosted server (`server_url`, with `app_id`/`app_secret` for token auth), or 8x8
    JaaS (`jaas_app_id`, `jaas_key_id`, `jaas_private_key`)."""

    server_url: str | None = Field(default=None, pattern=r"^https://[^\s/]+(/[^\s]*)?$")
    app_id: str | None = Field(default=None, max_length=100)
    app_secret: SecretStr | None = Field(default=None, max_length=500)
    jaas_app_id: str | None = Field(default=None, pattern=r"^vpaas-magic-cookie-[0-9a-f]+$")
    jaas_key_id: str | None = Field(default=None, max_length=100)
    jaas_private_key: SecretStr | None = None
    jaas_features: dict[str, bool] = Field(default_factory=dict)

    @field_validator("app_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Every member's token is signed with it, and a member may try guesses against their
        # own token offline: a short secret found that way signs a moderator's token.
        if value is not None and len(value.get_secret_value()) < MIN_JITSI_APP_SECRET:
            raise ValueError(
                f"must be at least {MIN_JITSI_APP_SECRET} characters: every member's Jitsi "
                "token is signed with it (HS256 wants a 256-bit key); set a longer app_secret "
                "on the Prosody server and here"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> JitsiAccountIn:
        jaas = [self.jaas_app_id, self.jaas_key_id, self.jaas_private_key]
        if any(jaas):
            if not all(jaas) or self.server_url:
                raise ValueError(
                    "8x8 JaaS needs jaas_app_id, jaas_key_id and jaas_private_key, "
                    "and no server_url"
                )
        elif not self.server_url:
            raise ValueError("give server_url (a school's Jitsi server) or the 8x8 JaaS fields")
        elif bool(self.app_id) != bool(self.app_secret):
            raise ValueError("token auth needs both app_id and app_secret")
        return self


class ProviderStatus(BaseModel):
    provider: Literal["zoom", "google_meet", "jitsi"]
    configured: bool
    usable: bool
    details: dict[str, Any] = Field(
        default_factory=dict, description="What is set, without any secret"
    )
