"""Standard Webhooks signing: `whsec_` secrets and the `webhook-signature` header.

The signature is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")),
where the key is the secret's bytes (the base64 after `whsec_`). During a rotation the header
carries one signature per live secret, space-separated; a receiver accepts any that matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 24 random bytes (192 bits)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, *, webhook_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(
    live_secrets: Sequence[str], *, webhook_id: str, timestamp: int, body: str
) -> str:
    """The `webhook-signature` value: one signature per live secret, newest first."""
    return " ".join(
        signature(s, webhook_id=webhook_id, timestamp=timestamp, body=body) for s in live_secrets
    )
