"""Jitsi: no create API; a meeting is an unguessable room on the configured server.

On meet.jit.si, since August 2023 the first person must log in (Google, GitHub or Facebook) to
open a room as moderator; everyone else waits in the lobby until then. That is fine for trying
Lingkar out; a school that needs more runs its own Jitsi server or uses 8x8 JaaS.
"""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote

from services.meetings.providers.base import ProviderMeeting
from shared.contracts.meetings import ProvisionRequest, RescheduleRequest

ROOM_PREFIX = "Lingkar"
ROOM_ENTROPY_BYTES = 16  # 128 bits: not guessable, not enumerable


def new_room_name() -> str:
    token = base64.b32encode(secrets.token_bytes(ROOM_ENTROPY_BYTES)).decode().rstrip("=")
    return f"{ROOM_PREFIX}{token}"


def display_name_fragment(name: str) -> str:
    """Jitsi reads `#userInfo.displayName="..."` as URL-encoded JSON: escape for both."""
    return f'#userInfo.displayName="{quote(json.dumps(name)[1:-1], safe="")}"'


class JitsiProvider:
    name = "jitsi"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url.rstrip("/")

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        room = new_room_name()
        return ProviderMeeting(provider_ref=room, host_url=f"{self.server_url}/{room}")

    async def update(self, meeting: ProviderMeeting, change: RescheduleRequest) -> None:
        """A Jitsi room has no schedule: the join gate's window is what moves."""

    async def delete(self, meeting: ProviderMeeting) -> None:
        """A Jitsi room cannot be deleted; with every link dead, nobody is sent to it again."""

    async def join_link_for(self, meeting: ProviderMeeting, *, display_name: str) -> str:
        # Without a JWT-enabled server a room has one URL for everyone (the room the meeting was
        # made on, even if the school's server setting changed since); the lobby keeps the
        # counselor in control of who actually enters.
        return meeting.host_url + display_name_fragment(display_name)
