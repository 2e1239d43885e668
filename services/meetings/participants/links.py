"""Members' join links: `{public_url}/j/{token}`, of which only the token's SHA-256 is kept.

The token is derived, not drawn: HMAC-SHA256 of `meeting:person:admission_no` under the service
secret. So a replayed request gets back the very link it got the first time without the token
ever being stored, and a new admission (after a revocation) gets a new link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Annotated

from fastapi import Depends, Request

from services.meetings.settings import MeetingsSettings


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class JoinLinks:
    def __init__(self, *, secret: str, public_url: str) -> None:
        self._key = secret.encode()
        self.public_url = public_url.rstrip("/")

    def token(self, *, meeting_id: uuid.UUID, person_id: uuid.UUID, admission_no: int) -> str:
        """32 bytes of HMAC, base64url without padding: as long as `token_urlsafe(32)`."""
        message = f"{meeting_id}:{person_id}:{admission_no}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, token: str) -> str:
        return f"{self.public_url}/j/{token}"

    def host_token(self, meeting_id: uuid.UUID) -> str:
        """The counselor's gate token for a meeting, derived the same way."""
        digest = hmac.new(self._key, f"host:{meeting_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def host_url(self, meeting_id: uuid.UUID) -> str:
        """The counselor's link: Lingkar's host gate, which fetches the provider's host link
        at the click (Zoom's start link carries the host's key and expires in about two
        hours, so it is never stored in a message or shown in an answer)."""
        return f"{self.public_url}/h/{self.host_token(meeting_id)}"


async def join_links(request: Request) -> JoinLinks:
    settings: MeetingsSettings = request.app.state.settings
    return JoinLinks(
        secret=settings.service_secret.get_secret_value(),
        public_url=settings.meetings_public_url,
    )


JoinLinkMaker = Annotated[JoinLinks, Depends(join_links)]
