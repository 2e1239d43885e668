"""8x8 Jitsi as a Service (JaaS): everyone enters with their own RS256 JWT.

Its own module because joserfc, which signs RS256, costs the process 2.6 MB at import and only a
school on JaaS needs it: `jitsi.jitsi_provider` imports this module when it first builds a JaaS
adapter, and the registry imports it off the event loop before that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from services.meetings.providers.accounts import JaasAccount
from services.meetings.providers.errors import ProviderRefused
from services.meetings.providers.jitsi import JitsiUser, TokenRooms, claim_flag, token_window

JAAS_URL = "https://8x8.vc"
# JaaS turns on what a token does not turn off; these are off unless the school allows them.
JAAS_FEATURES = (
    "recording",
    "livestreaming",
    "transcription",
    "outbound-call",
    "sip-outbound-call",
)


class JaasProvider(TokenRooms):
    """8x8 Jitsi as a Service: RS256 with the school's API key; `kid` names app and key.

    Features (recording, live streaming, transcription, dial-out) are off in every token unless
    the school allows them, and then only in the counselor's: no member records a session.
    """

    def __init__(self, account: JaasAccount) -> None:
        self.app_id = account.app_id
        self.key_id = f"{account.app_id}/{account.key_id}"
        self.features = dict(account.features)
        try:
            self._key = RSAKey.import_key(account.private_key)
        except (ValueError, TypeError, JoseError):
            raise ProviderRefused(
                "the 8x8 JaaS private key cannot be read: paste the whole PEM file of the "
                "API key, from its BEGIN line to its END line",
                provider="jitsi",
            ) from None
        if not self._key.is_private:
            raise ProviderRefused(
                "the 8x8 JaaS key is a public key: Lingkar needs the private one", provider="jitsi"
            )

    def room_url(self, room: str) -> str:
        return f"{JAAS_URL}/{self.app_id}/{room}"

    def token(
        self, room: str, user: JitsiUser, *, moderator: bool, starts_at: datetime, ends_at: datetime
    ) -> str:
        names = dict.fromkeys([*JAAS_FEATURES, *self.features])
        allowed = self.features
        features = {name: claim_flag(moderator and allowed.get(name, False)) for name in names}
        claims = {
            "aud": "jitsi",
            "iss": "chat",
            "sub": self.app_id,
            "room": room,
            **token_window(starts_at, ends_at),
            "context": {
                "user": {**user.claims(), "moderator": claim_flag(moderator)},
                "features": features,
            },
        }
        header = {"alg": "RS256", "kid": self.key_id, "typ": "JWT"}
        return jwt.encode(header, claims, self._key)

    def read_token(self, token: str) -> dict[str, Any]:
        try:
            return dict(jwt.decode(token, self._key, algorithms=["RS256"]).claims)
        except JoseError as exc:
            raise ValueError(f"not a token of this JaaS key: {exc.error}") from None

    def __repr__(self) -> str:
        return f"JaasProvider(app_id={self.app_id!r})"
