"""Consent links: a signed, single-purpose, expiring token naming one consent request.

The token is the credential: no account is needed. It is signed with the api's key, typed
`consent` so no other token is taken for it (nor it for another), and expires. Deciding needs
an open request and an unexpired token; withdrawing only needs a genuine one, since taking
consent back must stay as easy as giving it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.hs256 import HS256Key
from shared.problems import NotFound

CONSENT_TOKEN_TYPE = "consent"  # noqa: S105 - a type name, not a secret


@dataclass(frozen=True)
class ConsentToken:
    request_id: uuid.UUID
    expires_at: datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)


class ConsentTokens:
    def __init__(self, secret: str) -> None:
        self._key = HS256Key(secret.encode())

    def issue(self, request_id: uuid.UUID, expires_at: datetime) -> str:
        claims = {
            "typ": CONSENT_TOKEN_TYPE,
            "rid": str(request_id),
            "jti": uuid.uuid4().hex,
            "iat": int(time.time()),
            "exp": int(expires_at.timestamp()),
        }
        return self._key.encode(claims)

    def read(self, token: str) -> ConsentToken:
        """The request a genuine token names, expired or not; `NotFound` for anything forged."""
        try:
            claims = self._key.decode(token)
            expires = claims.get("exp")
            if claims.get("typ") != CONSENT_TOKEN_TYPE or type(expires) is not int:
                raise ValueError("not a consent token")
            return ConsentToken(
                request_id=uuid.UUID(str(claims["rid"])),
                expires_at=datetime.fromtimestamp(expires, UTC),
            )
        # InvalidToken (a ValueError: forged, malformed, another key's), an `exp` past what a
        # date holds, or a claim of the wrong type.
        except (KeyError, ValueError, TypeError, OverflowError, OSError) as exc:
            raise NotFound("this consent link is not valid") from exc
