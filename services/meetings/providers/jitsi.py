"""Jitsi: no create API; a meeting is an unguessable room on the configured server.

On meet.jit.si, since August 2023 the first person must log in (Google, GitHub or Facebook) to
open a room as moderator; everyone else waits in the lobby until then. That is fine for trying
Lingkar out; a school that needs more runs its own Jitsi server or uses 8x8 JaaS.
"""

from __future__ import annotations

import base64
import secrets

from services.meetings.providers.base import ProviderMeeting
from shared.contracts.meetings import ProvisionRequest

ROOM_PREFIX = "Lingkar"
ROOM_ENTROPY_BYTES = 16  # 128 bits: not guessable, not enumerable


def new_room_name() -> str:
    token = base64.b32encode(secrets.token_bytes(ROOM_ENTROPY_BYTES)).decode().rstrip("=")
    return f"{ROOM_PREFIX}{token}"


class JitsiProvider:
    name = "jitsi"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url.rstrip("/")

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        room = new_room_name()
        return ProviderMeeting(provider_ref=room, host_url=f"{self.server_url}/{room}")
