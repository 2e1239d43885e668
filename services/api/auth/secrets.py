"""Client secrets: 32 random bytes from `secrets`, stored only as their SHA-256 digest.

A slow password hash (scrypt, bcrypt, Argon2) makes guessing a person's password expensive:
people choose from lists an attacker can try. A client secret is chosen by no one; there is no
list, and 2^256 tries stay out of reach at any speed per try, so one SHA-256 keeps a leaked
table as safe as scrypt did. It costs a microsecond per check where scrypt cost tens of
milliseconds and 16 MiB, which an unauthenticated flood of token requests could turn against
the service. (API providers store their tokens the same way.)

Earlier versions stored scrypt hashes; those are still checked, and the token endpoint
replaces one with the new form at its client's first successful use (`needs_rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SHA256 = "sha256"
_SCRYPT = "scrypt"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return f"{_SHA256}${_digest(secret)}"


def needs_rehash(stored: str) -> bool:
    """A hash in an earlier form, checked slowly: replace it once the secret is known good."""
    return not stored.startswith(f"{_SHA256}$")


def verify_secret(secret: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    if scheme == _SHA256:
        return hmac.compare_digest(_digest(secret).encode(), rest.encode())
    if scheme == _SCRYPT:
        return _verify_scrypt(secret, rest)
    return False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _verify_scrypt(secret: str, rest: str) -> bool:
    """Hashes written before: `scrypt$n$r$p$salt$digest` (salt and digest in base64)."""
    try:
        n, r, p, salt, digest = rest.split("$")
        expected = base64.b64decode(digest)
        candidate = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, expected)
