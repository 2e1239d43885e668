"""Short-lived signed tokens for calls between our services.

The caller signs `{iss: caller, aud: receiver, typ: "service"}` with the shared service secret;
the receiver accepts only tokens addressed to itself. A user's access token is signed with a
different key and carries another `typ`, so it never opens an internal route.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.hs256 import HS256Key, InvalidToken
from shared.problems import Unauthorized

SERVICE_TOKEN_TYPE = "service"  # noqa: S105 - a type name, not a secret


class ServiceTokens:
    def __init__(self, *, service: str, secret: str, ttl_seconds: int = 60) -> None:
        self.service = service
        self.ttl_seconds = ttl_seconds
        self._key = HS256Key(secret.encode())

    def issue(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.service,
            "aud": audience,
            "typ": SERVICE_TOKEN_TYPE,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return self._key.encode(claims)

    def verify(self, token: str) -> str:
        """The calling service's name, or `Unauthorized`."""
        try:
            claims: dict[str, Any] = self._key.decode(token)
        except InvalidToken as exc:
            raise Unauthorized("invalid service token") from exc
        now = time.time()
        if (
            claims.get("typ") != SERVICE_TOKEN_TYPE
            or claims.get("aud") != self.service
            or type(claims.get("exp")) is not int
            or claims["exp"] < now
            or type(claims.get("iat")) is not int
            or claims["iat"] > now + 30
            or not isinstance(claims.get("iss"), str)
        ):
            raise Unauthorized("service token not valid for this service")
        return str(claims["iss"])


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required")
    return token.strip()


async def require_service(request: Request) -> str:
    """Dependency for internal routes: the name of the calling service.

    Async though it awaits nothing: a plain `def` dependency would cost a thread-pool hop."""
    tokens: ServiceTokens = request.app.state.service_tokens
    return tokens.verify(bearer_token(request))


CallingService = Annotated[str, Depends(require_service)]
