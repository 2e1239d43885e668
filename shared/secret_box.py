"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) under keys from the environment.

Several keys may be given, comma-separated, for rotation: the first encrypts, all decrypt. The
meetings service keeps schools' provider secrets in one; the notifications service, webhook
signing secrets.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.problems import ServiceUnavailable

# base64 of 32 bytes of zeros: a valid Fernet key that is obviously not a secret (dev only; the
# settings refuse it elsewhere, see shared.settings.PLACEHOLDER_SECRETS).
DEV_SECRETS_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class SecretBox:
    def __init__(self, keys: SecretStr, *, what: str = "the provider account") -> None:
        self._fernet = MultiFernet(
            [Fernet(k.strip().encode()) for k in keys.get_secret_value().split(",") if k.strip()]
        )
        self._what = what

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ServiceUnavailable(
                f"{self._what} cannot be read with the configured key"
            ) from exc
        return opened
