"""Zoom through a school's Server-to-Server OAuth app.

The access token (one hour, no refresh token) is fetched with the account-credentials grant and
cached per app until five minutes before it expires; a 401 with Zoom code 124 fetches a new one
and tries the call once more. Each member gets their own registrant link, so the meeting is made
with `approval_type` 0 and our join gate registers a member when they click.

Calls are retried when Zoom says to wait (429), fails (5xx) or cannot be reached, within
`RetryPolicy`. A create is never sent twice when the first may have arrived: Zoom has no
idempotency key, so a create that timed out raises `ProviderCallUncertain` and the meetings
service reconciles (the agenda names the Lingkar session, for finding it).

Logged: the call's name, the status and Zoom's code. Never the client secret, the access token,
a host's `start_url` (it carries the host's `zak`) or a member's registrant link.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import string
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.urls import url_encode
from authlib.oauth2.auth import ClientAuth

from services.meetings.providers.accounts import ZoomAccount
from services.meetings.providers.base import ProviderMeeting
from services.meetings.providers.errors import (
    ProviderCallUncertain,
    ProviderError,
    ProviderMeetingGone,
    ProviderRefused,
    ProviderUnavailable,
)
from services.meetings.providers.zoom_answers import (
    CREDENTIALS_REFUSED,
    DAILY_LIMIT,
    PROVIDER,
    TOKEN_EXPIRED,
    daily_limit,
    gave_up,
    has_meeting,
    refusal,
    seconds_until,
    unreachable,
    zoom_code,
    zoom_instant,
)
from shared.contracts.meetings import ProvisionRequest, RescheduleRequest
from shared.jitter import equal_jitter
from shared.timeutil import as_utc

log = logging.getLogger("lingkar.meetings.zoom")

ZOOM_TIME = "%Y-%m-%dT%H:%M:%SZ"
TOKEN_RENEW_BEFORE_EXPIRY = 300.0
TOPIC_MAX = 200
FIRST_NAME_MAX = 64
LIST_PAGE_SIZE = 300  # the most List meetings gives a page
LIST_MAX_PAGES = 20
PASSCODE_LENGTH = 10
PASSCODE_ALPHABET = string.ascii_letters + string.digits
MEMBER_EMAIL_DOMAIN = "members.lingkar.invalid"  # `.invalid` never delivers (RFC 2606)

MEETING_SETTINGS: dict[str, Any] = {
    "waiting_room": True,
    "join_before_host": False,
    "mute_upon_entry": True,
    "auto_recording": "none",
    "approval_type": 0,  # registration, approved at once: each member gets their own link
    "host_video": True,
    "participant_video": False,
    # Members hear from Lingkar (and reach Zoom through the join gate), never from Zoom.
    "registrants_confirmation_email": False,
    "registrants_email_notification": False,
}


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    first_backoff: float = 1.0  # then 2, 4, ...; each with jitter
    max_wait: float = 60.0  # Zoom asking for longer means: give up now, say when


@dataclass
class _CachedToken:
    value: str
    renew_at: float


class ZoomTokenCache:
    """Access tokens per Zoom app, shared by every adapter of the process (one per app)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(
        self,
        key: tuple[str, str],
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        clock: Callable[[], float],
    ) -> str:
        """The cached token, or one fetched now (once, however many callers are waiting)."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is None or clock() >= cached.renew_at:
                value, expires_in = await fetch()
                renew_in = expires_in - min(TOKEN_RENEW_BEFORE_EXPIRY, expires_in / 2)
                cached = self._tokens[key] = _CachedToken(value, clock() + renew_in)
            return cached.value

    def drop(self, key: tuple[str, str], value: str) -> None:
        """Forget a token Zoom refused, unless another caller has already replaced it."""
        cached = self._tokens.get(key)
        if cached is not None and cached.value == value:
            del self._tokens[key]


def new_passcode() -> str:
    """Ten letters and digits, with a lower-case letter, a capital and a digit, which the
    strictest passcode rules of a Zoom account ask for."""
    while True:
        code = "".join(secrets.choice(PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))
        kinds = (str.islower, str.isupper, str.isdigit)
        if all(any(kind(c) for c in code) for kind in kinds):
            return code


def member_email(person_key: str) -> str:
    """A stable address per member for Zoom's registrant (Zoom requires one); never delivered."""
    local = re.sub(r"[^a-z0-9-]", "-", person_key.lower())[:64] or "member"
    return f"{local}@{MEMBER_EMAIL_DOMAIN}"


def agenda_tag(session_id: uuid.UUID) -> str:
    """Written into the meeting's agenda so the meeting can be found again."""
    return f"Lingkar session {session_id}"


def zoom_time(moment: datetime) -> str:
    return as_utc(moment).strftime(ZOOM_TIME)


class ZoomProvider:
    name = PROVIDER

    def __init__(
        self,
        account: ZoomAccount,
        *,
        oauth_url: str,
        api_url: str,
        tokens: ZoomTokenCache,
        http: httpx.AsyncClient,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.token_url = oauth_url.rstrip("/") + "/oauth/token"
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.http = http
        self.timeout = httpx.Timeout(timeout)
        self.retry = retry
        self.sleep = sleep
        self.clock = clock
        self._token_key = (account.account_id, account.client_id)

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        body = {
            "topic": request.title[:TOPIC_MAX],
            "type": 2,  # scheduled
            "start_time": zoom_time(request.scheduled_start),
            "duration": request.duration_minutes,
            "timezone": request.timezone,
            "password": new_passcode(),
            "agenda": agenda_tag(request.session_id),  # what `find` looks for after a crash
            "settings": MEETING_SETTINGS,
        }
        host = quote(self.account.host_user, safe="@")  # "me" or the host's email
        answer = await self._api("create", "POST", f"/users/{host}/meetings", body, resend=False)
        meeting = answer.json()
        return ProviderMeeting(
            provider_ref=str(meeting["id"]),
            host_url=meeting["start_url"],
            passcode=meeting.get("password"),
        )

    async def find(self, session_id: uuid.UUID, starts_at: datetime) -> ProviderMeeting | None:
        """The meeting an earlier create for this session and time made, if Zoom has one: the
        host's scheduled meetings are listed (List meetings, `type=scheduled`, 300 a page) and
        matched on the agenda tag and the start time `create` wrote."""
        host = quote(self.account.host_user, safe="@")
        tag, start = agenda_tag(session_id), zoom_instant(zoom_time(starts_at))
        params: dict[str, Any] = {"type": "scheduled", "page_size": LIST_PAGE_SIZE}
        for _ in range(LIST_MAX_PAGES):
            answer = await self._api("find", "GET", f"/users/{host}/meetings", params=params)
            page = answer.json()
            for listed in page.get("meetings") or []:
                if listed.get("agenda") == tag and zoom_instant(listed.get("start_time")) == start:
                    held = await self._meeting("find.read", ProviderMeeting(str(listed["id"]), ""))
                    log.info("zoom meeting found again", extra={"call": "find"})
                    return ProviderMeeting(
                        provider_ref=str(held["id"]),
                        host_url=held["start_url"],
                        passcode=held.get("password"),
                    )
            if not page.get("next_page_token"):
                return None
            params["next_page_token"] = page["next_page_token"]
        raise ProviderUnavailable(
            "Zoom's list of the host's meetings is too long to search", provider=PROVIDER
        )

    async def update(self, meeting: ProviderMeeting, change: RescheduleRequest) -> None:
        """Move the meeting, then read it back: Zoom's PATCH answers with no body."""
        start = zoom_time(change.scheduled_start)
        body = {
            "topic": change.title[:TOPIC_MAX],
            "start_time": start,  # UTC: the meeting keeps its own timezone for display
            "duration": change.duration_minutes,
        }
        await self._api("update", "PATCH", f"/meetings/{meeting.provider_ref}", body)
        held = await self._meeting("update.verify", meeting)
        if zoom_instant(held.get("start_time")) != zoom_instant(start):
            raise ProviderError("Zoom did not keep the new time of the meeting", provider=PROVIDER)

    async def delete(self, meeting: ProviderMeeting) -> None:
        try:
            await self._api("delete", "DELETE", f"/meetings/{meeting.provider_ref}")
        except ProviderMeetingGone:
            return  # deleted already (by an earlier try, or by hand in Zoom)

    async def join_link_for(
        self, meeting: ProviderMeeting, *, display_name: str, person_key: str | None = None
    ) -> str:
        """The member's own registrant link. Registering the same email again gives the same
        registrant, so a member who clicks twice keeps one link; without a `person_key` each
        call registers someone new."""
        body = {
            "email": member_email(person_key or uuid.uuid4().hex),
            "first_name": display_name[:FIRST_NAME_MAX] or "Peserta",
            "auto_approve": True,
        }
        path = f"/meetings/{meeting.provider_ref}/registrants"
        answer = await self._api("register", "POST", path, body)
        return str(answer.json()["join_url"])

    async def fresh_host_url(self, meeting: ProviderMeeting) -> str:
        """The host's link as Zoom gives it now: the one made with the meeting expires after
        about two hours, so the counselor's link is asked for again near the start."""
        return str((await self._meeting("host_link", meeting))["start_url"])

    async def _meeting(self, call: str, meeting: ProviderMeeting) -> dict[str, Any]:
        answer = await self._api(call, "GET", f"/meetings/{meeting.provider_ref}")
        held: dict[str, Any] = answer.json()
        return held

    async def _api(
        self,
        call: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        resend: bool = True,
    ) -> httpx.Response:
        """One API call with a valid token: a token Zoom calls expired is renewed once."""
        url = self.api_url + path
        for renewed in (False, True):
            token = await self.tokens.get(self._token_key, self._fetch_token, self.clock)
            headers = {"Authorization": f"Bearer {token}"}
            send = partial(
                self.http.request,
                method,
                url,
                json=body,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
            answer = await self._with_retries(call, send, resend=resend)
            if answer.is_success:
                return answer
            if answer.status_code == 401 and zoom_code(answer) == TOKEN_EXPIRED and not renewed:
                self.tokens.drop(self._token_key, token)
                continue
            raise refusal(call, answer)
        raise AssertionError("unreachable")

    async def _fetch_token(self) -> tuple[str, float]:
        form = url_encode(
            [("grant_type", "account_credentials"), ("account_id", self.account.account_id)]
        )
        auth = ClientAuth(self.account.client_id, self.account.client_secret)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        _, headers, content = auth.prepare("POST", self.token_url, headers, form)

        send = partial(
            self.http.post, self.token_url, content=content, headers=headers, timeout=self.timeout
        )
        answer = await self._with_retries("token", send, resend=True)
        if answer.status_code in (400, 401, 403):
            raise ProviderRefused(CREDENTIALS_REFUSED, provider=PROVIDER)
        if not answer.is_success:
            raise ProviderUnavailable(
                f"Zoom's token endpoint answered {answer.status_code}", provider=PROVIDER
            )
        grant = answer.json()
        return str(grant["access_token"]), float(grant.get("expires_in", 3600))

    async def _with_retries(
        self,
        call: str,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        resend: bool,
    ) -> httpx.Response:
        """Send until Zoom answers something other than "wait" or "failed"; `resend=False`
        (a create) is never sent again once it may have reached Zoom."""
        for attempt in range(self.retry.retries + 1):
            last = attempt == self.retry.retries
            try:
                answer = await send()
            except httpx.TransportError as exc:
                log.warning("zoom call failed", extra={"call": call, "error": type(exc).__name__})
                reason = unreachable(call, exc, resend=resend)
                if last:
                    raise ProviderUnavailable(reason, provider=PROVIDER) from exc
                await self.sleep(self._backoff(attempt))
                continue
            code = zoom_code(answer)
            log.info(
                "zoom call", extra={"call": call, "status": answer.status_code, "zoom_code": code}
            )
            wait = self._wait_before_retry(call, answer, attempt, resend=resend)
            if wait is None:
                return answer
            if last:
                raise ProviderUnavailable(gave_up(call, answer), provider=PROVIDER)
            await self.sleep(wait)
        raise AssertionError("unreachable")

    def _wait_before_retry(
        self, call: str, answer: httpx.Response, attempt: int, *, resend: bool
    ) -> float | None:
        """How long to wait before sending again, or None when this answer is final."""
        status = answer.status_code
        if status == 429:
            if daily_limit(answer):
                raise ProviderUnavailable(DAILY_LIMIT, provider=PROVIDER)
            return self._retry_after(answer, attempt)
        if status < 500:
            return None
        if not resend and (status == 504 or has_meeting(answer)):
            # A gateway that timed out, or an answer with a meeting in it: it may exist.
            raise ProviderCallUncertain(
                f"Zoom answered the {call} with {status}; the meeting may exist",
                provider=PROVIDER,
            )
        return self._backoff(attempt)

    def _retry_after(self, answer: httpx.Response, attempt: int) -> float:
        value = answer.headers.get("Retry-After")
        wait = seconds_until(value, self.clock()) if value else None
        if wait is None:
            return self._backoff(attempt)
        if wait > self.retry.max_wait:
            minutes = max(1, round(wait / 60))
            raise ProviderUnavailable(f"Zoom asks us to wait {minutes} minutes", provider=PROVIDER)
        return wait

    def _backoff(self, attempt: int) -> float:
        base = min(self.retry.max_wait, self.retry.first_backoff * 2**attempt)
        return equal_jitter(base)
