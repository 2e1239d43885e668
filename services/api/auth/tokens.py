"""Access tokens the api issues and verifies: HS256 JWTs naming school, role and scopes."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import Any

from services.api.auth.principal import Principal, Role
from shared.hs256 import HS256Key
from shared.problems import Unauthorized

ISSUER = "lingkar-api"
AUDIENCE = "lingkar"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a type name, not a secret


# Tokens verified lately, so a client's every request is not a new HMAC and JSON parse: a
# token's claims never change, and nothing revokes a token before it expires (its expiry is
# checked again on every use). Bounded: the oldest are dropped first.
VERIFIED_CACHE_SIZE = 4096


class AccessTokens:
    def __init__(self, *, secret: str, ttl_seconds: int) -> None:
        self._key = HS256Key(secret.encode())
        self.ttl_seconds = ttl_seconds
        self._verified: OrderedDict[str, tuple[Principal, int]] = OrderedDict()

    def issue(
        self,
        *,
        role: Role,
        subject: str,
        client_id: str,
        scopes: list[str],
        school_id: uuid.UUID | None,
        user_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": ACCESS_TOKEN_TYPE,
            "sub": subject,
            "cid": client_id,
            "role": role.value,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if school_id:
            claims["sch"] = str(school_id)
        if user_id:
            claims["uid"] = str(user_id)
        token = self._key.encode(claims, header={"typ": "JWT"})
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.ttl_seconds,
            "scope": claims["scope"],
        }

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if expires >= time.time():
                return principal
            del self._verified[token]
        principal, expires = self._decode(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str) -> tuple[Principal, int]:
        try:
            claims = self._key.decode(token)
            expires = claims.get("exp")
            if (
                claims.get("typ") != ACCESS_TOKEN_TYPE
                or claims.get("aud") != AUDIENCE
                or claims.get("iss") != ISSUER
                or type(expires) is not int
                or expires < time.time()
            ):
                raise Unauthorized("the access token is expired or not for this API")
            principal = Principal(
                role=Role(claims["role"]),
                subject=str(claims["sub"]),
                client_id=str(claims["cid"]),
                scopes=frozenset(str(claims.get("scope", "")).split()),
                school_id=uuid.UUID(claims["sch"]) if claims.get("sch") else None,
                user_id=uuid.UUID(claims["uid"]) if claims.get("uid") else None,
            )
            return principal, expires
        # InvalidToken (a ValueError: forged, malformed, another key's), or a claim of the
        # wrong type.
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise Unauthorized("the access token is not valid") from exc
