"""Jitsi: no create API; a meeting is an unguessable room on a Jitsi server.

Three ways a school uses Jitsi, one adapter each:

- The default server (`LINGKAR_JITSI_DEFAULT_URL`, meet.jit.si unless changed), or a school's
  own server without token auth: `JitsiProvider`, one room URL for everyone. On meet.jit.si,
  since August 2023 the first person must log in (Google, GitHub or Facebook) to open a room as
  moderator; everyone else waits in the lobby until then. That is fine for trying Lingkar out;
  a school that needs more runs its own Jitsi server or uses 8x8 JaaS.
- A school's own server with token auth (Prosody `authentication = "token"`):
  `JitsiTokenProvider`. Everyone enters with their own JWT (HS256, the app secret) in `?jwt=`;
  the counselor's marks them as moderator, members' do not.
- 8x8 Jitsi as a Service: `jaas.JaasProvider`, the same with RS256 and the school's API key.

A token is valid from 15 minutes before the start (when the join gate opens) to 15 minutes after
the end. Members' tokens are made at the click, from the meeting's time as Lingkar holds it then,
so a reschedule needs nothing from the server; the counselor's token sits in the host URL and is
made again by `fresh_host_url`.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from services.meetings.providers.accounts import JaasAccount, JitsiAccount
from services.meetings.providers.base import ProviderMeeting
from shared.contracts.meetings import ProvisionRequest, RescheduleRequest
from shared.hs256 import HS256Key
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from services.meetings.providers.jaas import JaasProvider

ROOM_PREFIX = "Lingkar"
ROOM_ENTROPY_BYTES = 16  # 128 bits: not guessable, not enumerable
TOKEN_MARGIN = timedelta(minutes=15)


def new_room_name() -> str:
    token = base64.b32encode(secrets.token_bytes(ROOM_ENTROPY_BYTES)).decode().rstrip("=")
    return f"{ROOM_PREFIX}{token}"


def display_name_fragment(name: str) -> str:
    """Jitsi reads `#userInfo.displayName="..."` as URL-encoded JSON: escape for both."""
    return f'#userInfo.displayName="{quote(json.dumps(name)[1:-1], safe="")}"'


class JitsiProvider:
    """A Jitsi server without token auth: one room URL for everyone."""

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

    async def join_link_for(
        self, meeting: ProviderMeeting, *, display_name: str, person_key: str | None = None
    ) -> str:
        # Without a JWT-enabled server a room has one URL for everyone (the room the meeting was
        # made on, even if the school's server setting changed since); the lobby keeps the
        # counselor in control of who actually enters.
        return meeting.host_url + display_name_fragment(display_name)


@dataclass(frozen=True)
class JitsiUser:
    """Who a token admits: `context.user`, every value a string."""

    id: str
    name: str
    email: str | None = None

    def claims(self) -> dict[str, str]:
        user = {"id": self.id, "name": self.name}
        if self.email:
            user["email"] = self.email
        return user


class TokenRooms:
    """What the two token-auth adapters share: rooms, the time window, the links."""

    name = "jitsi"

    def room_url(self, room: str) -> str:
        raise NotImplementedError

    def token(
        self, room: str, user: JitsiUser, *, moderator: bool, starts_at: datetime, ends_at: datetime
    ) -> str:
        raise NotImplementedError

    def read_token(self, token: str) -> dict[str, Any]:
        """The claims of a token we signed; ValueError if it is not ours."""
        raise NotImplementedError

    def link(
        self, room: str, user: JitsiUser, *, moderator: bool, starts_at: datetime, ends_at: datetime
    ) -> str:
        signed = self.token(room, user, moderator=moderator, starts_at=starts_at, ends_at=ends_at)
        return f"{self.room_url(room)}?jwt={signed}"

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        room = new_room_name()
        starts_at = as_utc(request.scheduled_start)
        ends_at = starts_at + timedelta(minutes=request.duration_minutes)
        host = JitsiUser(
            id=str(request.host.person_id), name=request.host.name, email=request.host.email
        )
        host_url = self.link(room, host, moderator=True, starts_at=starts_at, ends_at=ends_at)
        return ProviderMeeting(
            provider_ref=room, host_url=host_url, starts_at=starts_at, ends_at=ends_at
        )

    async def update(self, meeting: ProviderMeeting, change: RescheduleRequest) -> None:
        """Nothing on the server has a time: members' tokens are made at the click, from the
        new time; the counselor's host URL is made again by `fresh_host_url`."""

    async def delete(self, meeting: ProviderMeeting) -> None:
        """A room cannot be deleted; with every link dead, nobody gets a token for it again."""

    async def join_link_for(
        self, meeting: ProviderMeeting, *, display_name: str, person_key: str | None = None
    ) -> str:
        """The member's room URL with a token of their own, never a moderator's."""
        starts_at, ends_at = _times(meeting)
        member = JitsiUser(id=person_key or f"guest-{uuid.uuid4()}", name=display_name)
        return self.link(
            meeting.provider_ref, member, moderator=False, starts_at=starts_at, ends_at=ends_at
        )

    async def fresh_host_url(self, meeting: ProviderMeeting) -> str:
        """The counselor's host URL with a token for the meeting's time as it is now (after a
        reschedule the stored one is for the old time); the host is read from that token."""
        if meeting.starts_at is None or meeting.ends_at is None:
            return meeting.host_url
        starts_at, ends_at = _times(meeting)
        query = parse_qs(urlsplit(meeting.host_url).query)
        try:
            user = self.read_token(query["jwt"][0])["context"]["user"]
            host = JitsiUser(id=user["id"], name=user["name"], email=user.get("email"))
        except (KeyError, IndexError, TypeError, ValueError):
            return meeting.host_url  # not a host URL we made: leave it as it is
        if user.get("moderator") != "true":
            return meeting.host_url  # never turn someone else's token into a moderator's
        return self.link(
            meeting.provider_ref, host, moderator=True, starts_at=starts_at, ends_at=ends_at
        )


def _times(meeting: ProviderMeeting) -> tuple[datetime, datetime]:
    if meeting.starts_at is None or meeting.ends_at is None:
        raise ValueError("a Jitsi token needs the meeting's starts_at and ends_at")
    return as_utc(meeting.starts_at), as_utc(meeting.ends_at)


def token_window(starts_at: datetime, ends_at: datetime) -> dict[str, int]:
    return {
        "nbf": int((starts_at - TOKEN_MARGIN).timestamp()),
        "exp": int((ends_at + TOKEN_MARGIN).timestamp()),
    }


def claim_flag(value: bool) -> str:
    return "true" if value else "false"


class JitsiTokenProvider(TokenRooms):
    """A school's own Jitsi server with token auth (HS256 with the app secret).

    The counselor's token says moderator twice, once for each community Prosody plugin that
    reads it: `affiliation: "owner"` (token_affiliation) and `moderator: "true"`.
    """

    def __init__(self, account: JitsiAccount) -> None:
        if not account.app_id or not account.app_secret:
            raise ValueError("token auth needs the Jitsi server's app id and app secret")
        self.server_url = account.server_url.rstrip("/")
        self.app_id = account.app_id
        self._key = HS256Key(account.app_secret.encode())
        self.subject = _server_subject(self.server_url)

    def room_url(self, room: str) -> str:
        return f"{self.server_url}/{room}"

    def token(
        self, room: str, user: JitsiUser, *, moderator: bool, starts_at: datetime, ends_at: datetime
    ) -> str:
        claims = {
            "iss": self.app_id,
            "aud": "jitsi",
            "sub": self.subject,
            "room": room,
            **token_window(starts_at, ends_at),
            "context": {
                "user": {
                    **user.claims(),
                    "affiliation": "owner" if moderator else "member",
                    "moderator": claim_flag(moderator),
                }
            },
        }
        return self._key.encode(claims, header={"typ": "JWT"})

    def read_token(self, token: str) -> dict[str, Any]:
        return self._key.decode(token)

    def __repr__(self) -> str:
        return f"JitsiTokenProvider(server_url={self.server_url!r}, app_id={self.app_id!r})"


def _server_subject(server_url: str) -> str:
    """`sub`: the tenant when rooms live under one (`https://host/tenant/room`), else the host.

    Prosody compares it with the room's address: `[tenant]room@conference.host` with tenants,
    `room@conference.<sub>` without.
    """
    parts = urlsplit(server_url)
    tenant = parts.path.strip("/")
    return tenant or (parts.hostname or "")


def jitsi_provider(
    account: JitsiAccount | JaasAccount | None, *, default_url: str
) -> JitsiProvider | JitsiTokenProvider | JaasProvider:
    """The adapter for a school's Jitsi set-up: JaaS, its own server (with token auth when it
    has an app id and secret), or the default server."""
    if isinstance(account, JaasAccount):
        # Here, not at the top: joserfc (RS256) costs the process 2.6 MB, and only a school
        # on 8x8 JaaS needs it (the registry imports it off the event loop first).
        from services.meetings.providers.jaas import JaasProvider

        return JaasProvider(account)
    if account is None:
        return JitsiProvider(default_url)
    if account.app_id and account.app_secret:
        return JitsiTokenProvider(account)
    return JitsiProvider(account.server_url)
