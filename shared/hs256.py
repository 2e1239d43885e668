"""Our own tokens: compact JWS (RFC 7515) signed with HMAC-SHA256, as JWTs (RFC 7519).

Access tokens, consent links and service tokens are signed and verified by us alone, with one
algorithm. That needs `hmac` and `hashlib`, not a JOSE library: joserfc registers every
algorithm it knows at import, which loads `cryptography`'s native module, 11 MB of memory in
each process for keys we never use. A school's own Jitsi server with token auth reads HS256
tokens too, signed here. (Only 8x8 JaaS's RS256 tokens use joserfc, loaded on first use.)

`decode` checks the form and the signature only; each caller checks its own claims (type,
audience, expiry), as it did before. It refuses:
- anything but three non-empty base64url parts, and tokens over 8 KB (before any hashing);
- a signature that is not exactly the one its key makes, in canonical base64url (so one token
  has one spelling), compared in constant time;
- any `alg` but HS256, `"none"` included, and a header with `crit` (nothing is understood);
- a header or payload that is not a JSON object, or that holds NaN or Infinity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 8192
_FORM = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class InvalidToken(ValueError):
    """Not a well-formed HS256 token signed with this key."""


class HS256Key:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an HS256 key cannot be empty")
        self._secret = secret

    def sign(self, signing_input: bytes) -> str:
        """The signature segment of `header.payload` (both already base64url)."""
        return _b64encode(hmac.new(self._secret, signing_input, hashlib.sha256).digest())

    def encode(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
        head = {"alg": ALGORITHM, **(header or {})}
        if head["alg"] != ALGORITHM:
            raise ValueError("only HS256 is signed here")
        signing_input = f"{_b64json(head)}.{_b64json(claims)}"
        return f"{signing_input}.{self.sign(signing_input.encode('ascii'))}"

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a token this key signed; `InvalidToken` otherwise."""
        try:
            raw = token.encode("ascii")
        except (AttributeError, UnicodeEncodeError) as exc:
            raise InvalidToken("a token is three base64url parts") from exc
        if len(raw) > MAX_TOKEN_LENGTH or not _FORM.fullmatch(raw):
            raise InvalidToken("a token is three base64url parts, at most 8 KB")
        signing_input, _, signature = raw.rpartition(b".")
        head_part, _, claims_part = signing_input.partition(b".")
        if not hmac.compare_digest(self.sign(signing_input).encode("ascii"), signature):
            raise InvalidToken("the signature is not this key's")
        header = _json_object(head_part)
        if header.get("alg") != ALGORITHM or "crit" in header:
            raise InvalidToken("only HS256, with no critical extensions, is accepted")
        return _json_object(claims_part)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(value: dict[str, Any]) -> str:
    return _b64encode(json.dumps(value, separators=(",", ":")).encode())


def _json_object(part: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)), parse_constant=_no_constant
        )
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidToken("a part is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("a part is not a JSON object")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a token may hold")
