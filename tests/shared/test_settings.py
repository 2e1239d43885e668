"""Settings: a production deployment cannot start on placeholder or short secrets."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.api.settings import ApiSettings
from services.meetings.settings import MeetingsSettings
from services.notifications.settings import NotificationsSettings
from shared.settings import DEV_SECRET_KEY, DEV_SERVICE_SECRET, MIN_SECRET_LENGTH

STRONG_KEY = "k" * 20 + "-production-key-0001"
STRONG_SERVICE = "s" * 20 + "-production-svc-0001"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LINGKAR_ variable from outside may decide these tests (the suite clears them too)."""
    for name in ("LINGKAR_ENV", "LINGKAR_SECRET_KEY", "LINGKAR_SERVICE_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_production_refuses_the_placeholder_secrets_naming_both() -> None:
    with pytest.raises(ValidationError) as refused:
        ApiSettings(env="production")
    message = str(refused.value)
    assert "LINGKAR_SECRET_KEY" in message
    assert "LINGKAR_SERVICE_SECRET" in message
    # It names them; it never prints them.
    assert DEV_SECRET_KEY not in message
    assert DEV_SERVICE_SECRET not in message


def test_production_is_the_default_environment_and_refuses_placeholders() -> None:
    with pytest.raises(ValidationError, match="LINGKAR_SECRET_KEY"):
        ApiSettings()


def test_production_accepts_strong_secrets() -> None:
    settings = ApiSettings(env="production", secret_key=STRONG_KEY, service_secret=STRONG_SERVICE)
    assert settings.env == "production"
    assert settings.secret_key.get_secret_value() == STRONG_KEY
    assert STRONG_KEY not in repr(settings)  # secrets stay masked in reprs and logs


def test_production_refuses_when_only_one_secret_is_strong() -> None:
    with pytest.raises(ValidationError) as refused:
        ApiSettings(env="production", secret_key=STRONG_KEY)
    message = str(refused.value)
    assert "LINGKAR_SERVICE_SECRET" in message
    assert "LINGKAR_SECRET_KEY" not in message


@pytest.mark.parametrize("env", ["dev", "test"])
def test_dev_and_test_accept_the_default_secrets(env: str) -> None:
    settings = ApiSettings(env=env)
    assert settings.secret_key.get_secret_value() == DEV_SECRET_KEY
    assert settings.service_secret.get_secret_value() == DEV_SERVICE_SECRET


@pytest.mark.parametrize("length", [0, 8, MIN_SECRET_LENGTH - 1])
def test_production_refuses_a_short_secret(length: int) -> None:
    short = "x" * length
    with pytest.raises(ValidationError) as refused:
        ApiSettings(env="production", secret_key=short, service_secret=STRONG_SERVICE)
    message = str(refused.value)
    assert "LINGKAR_SECRET_KEY" in message
    assert str(MIN_SECRET_LENGTH) in message


def test_a_secret_of_exactly_the_minimum_length_is_accepted() -> None:
    settings = ApiSettings(
        env="production", secret_key="x" * MIN_SECRET_LENGTH, service_secret=STRONG_SERVICE
    )
    assert len(settings.secret_key.get_secret_value()) == MIN_SECRET_LENGTH


def test_production_secrets_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINGKAR_ENV", "production")
    monkeypatch.setenv("LINGKAR_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("LINGKAR_SERVICE_SECRET", STRONG_SERVICE)
    settings = ApiSettings()
    assert settings.env == "production"
    assert settings.secret_key.get_secret_value() == STRONG_KEY
    monkeypatch.setenv("LINGKAR_SERVICE_SECRET", "too-short")
    with pytest.raises(ValidationError, match="LINGKAR_SERVICE_SECRET"):
        ApiSettings()


@pytest.mark.parametrize(
    ("settings_class", "extra"),
    [
        # The meetings service also encrypts schools' provider secrets with its own key.
        (MeetingsSettings, {"provider_secrets_key": Fernet.generate_key().decode()}),
        # Outside dev the notifications service also needs a real way to send mail, and its own
        # key for webhook signing secrets.
        (
            NotificationsSettings,
            {
                "smtp_host": "smtp.sekolah.example",
                "webhook_secrets_key": Fernet.generate_key().decode(),
            },
        ),
    ],
    ids=["meetings", "notifications"],
)
def test_the_other_services_refuse_a_placeholder_service_secret_in_production(
    settings_class: type[MeetingsSettings] | type[NotificationsSettings], extra: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="LINGKAR_SERVICE_SECRET"):
        settings_class(env="production", **extra)
    accepted = settings_class(env="production", service_secret=STRONG_SERVICE, **extra)
    assert accepted.service_secret.get_secret_value() == STRONG_SERVICE


def test_the_meetings_service_refuses_the_dev_provider_secrets_key_in_production() -> None:
    with pytest.raises(ValidationError, match="LINGKAR_PROVIDER_SECRETS_KEY"):
        MeetingsSettings(env="production", service_secret=STRONG_SERVICE)


def test_the_notifications_service_refuses_the_dev_webhook_secrets_key_in_production() -> None:
    with pytest.raises(ValidationError, match="LINGKAR_WEBHOOK_SECRETS_KEY"):
        NotificationsSettings(
            env="production", service_secret=STRONG_SERVICE, smtp_host="smtp.sekolah.example"
        )
