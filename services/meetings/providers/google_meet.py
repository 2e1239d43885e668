"""Google Meet, as a Google Calendar event with Meet conference data.

Why an event and not a bare Meet space (Meet REST API v2 `spaces.create`): a space has no start
or end, and cannot be deleted. A rescheduled session would leave its counselor's calendar wrong,
and a cancelled one would leave a room that still opens for anyone holding its link. An event
has the session's time, moves when the session moves, and deleting it removes its conference.
The counselor also sees the session in their own Google Calendar, where they plan their day.

How:
- A service account with domain-wide delegation acts as the counselor (`subject`), so the event
  is theirs and they host the call; the event lives in their primary calendar. The account is
  asked for one scope, `calendar.events`; the school's Workspace admin authorises exactly that.
- The event is made with `conferenceDataVersion=1` (without it Google silently adds no
  conference) and a fresh `requestId`; while the conference is `pending` we ask again, a few
  times, then give up as unavailable.
- No attendees: Google would email each of them its own invitation, with the Meet link,
  around the consent gate. Google has no per-person link without attendees; what is per person
  is Lingkar's own join link (`/j/{token}`), which checks consent at the click before it sends
  a member to this one Meet link. Members from outside the school's Workspace knock, and the
  counselor lets them in.
- One event per provisioning request, however often it is retried: the event id is derived from
  the request, so a second insert answers 409 and we carry on with the event already there.
- google-api-python-client blocks, so every call runs in a worker thread, never on the event
  loop. httplib2's timeout bounds each connection and read; a time-out, a 429 or a 5xx is
  retried a few times with backoff and jitter, then reported as unavailable.
- The private key, the service-account JSON and access tokens are never logged or put in an
  error: errors say what a school admin can fix, in their words.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from services.meetings.providers.accounts import GoogleMeetAccount
from services.meetings.providers.base import ProviderMeeting
from services.meetings.providers.errors import (
    ProviderMeetingGone,
    ProviderRefused,
    ProviderUnavailable,
)
from services.meetings.providers.google_errors import (
    CALENDAR_SCOPE,
    PROVIDER,
    api_error,
    sign_in_error,
)
from shared.contracts.meetings import ProvisionRequest, RescheduleRequest
from shared.jitter import spread
from shared.timeutil import as_utc

log = logging.getLogger("lingkar.meetings.google_meet")

CALENDAR = "primary"  # the counselor's own calendar (the service account's, without delegation)
EVENT_ID_PREFIX = "lingkar"  # event ids are base32hex: lowercase a-v and digits
EVENT_GENERATIONS = 3  # how many cancelled events of the same request we step past
POLL_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # waiting while Google prepares the conference
RETRY_DELAYS = (0.5, 2.0)  # before each retry of a time-out, a 429 or a 5xx

Sleep = Callable[[float], Awaitable[None]]
HttpFactory = Callable[[], Any]  # an httplib2.Http, or a test double of one


class GoogleMeetProvider:
    name = PROVIDER

    def __init__(
        self,
        account: GoogleMeetAccount,
        *,
        host_email: str | None,
        http_factory: HttpFactory | None = None,
        timeout: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.impersonate = account.impersonate_domain_users
        self.host_email = host_email
        self.client_id = str(account.service_account_info.get("client_id", ""))
        self._http_factory = http_factory or (lambda: httplib2.Http(timeout=timeout))
        self._sleep = sleep
        self._credentials = _service_account(account)
        self._acting_as: dict[str | None, service_account.Credentials] = {}

    def __repr__(self) -> str:
        return f"GoogleMeetProvider(client_id={self.client_id!r}, host_email={self.host_email!r})"

    async def create(self, request: ProvisionRequest) -> ProviderMeeting:
        """The request's event with its Meet conference, made now or found from an earlier try."""
        subject = self._host_subject()
        calendar = await self._calendar(subject)
        for generation in range(EVENT_GENERATIONS):
            event_id = event_id_for(request, generation)
            event = await self._insert_or_find(calendar, request, event_id, subject)
            if event is not None:
                break
        else:
            raise ProviderRefused(
                "this exact meeting was made and cancelled in Google Calendar several times; "
                "change its time or title and try again",
                provider=PROVIDER,
            )
        event = await self._conference_ready(calendar, event, subject)
        return ProviderMeeting(
            provider_ref=provider_ref(subject, event["id"]), host_url=meet_link(event)
        )

    async def update(self, meeting: ProviderMeeting, change: RescheduleRequest) -> None:
        """Move the event (and its title) to the new time, then read it back to be sure."""
        subject, event_id = split_ref(meeting.provider_ref)
        calendar = await self._calendar(subject)
        start = as_utc(change.scheduled_start)
        times = event_times(start, start + timedelta(minutes=change.duration_minutes))
        body = {"summary": change.title, **times}
        patch = calendar.events().patch(
            calendarId=CALENDAR, eventId=event_id, body=body, sendUpdates="none"
        )
        try:
            await self._execute(patch, subject, expected=(404, 410))
            held = await self._execute(
                calendar.events().get(calendarId=CALENDAR, eventId=event_id),
                subject,
                expected=(404, 410),
            )
        except HttpError:
            held = {"status": "cancelled"}
        if held.get("status") == "cancelled":
            raise ProviderMeetingGone(
                "the Google Calendar event of this meeting was deleted outside Lingkar; "
                "cancel this meeting and make a new one",
                provider=PROVIDER,
            )
        if _instant(held.get("start")) != start:
            raise ProviderUnavailable(
                "Google Calendar did not keep the new time; try again", provider=PROVIDER
            )

    async def delete(self, meeting: ProviderMeeting) -> None:
        """Delete the event and with it the conference; one already gone is fine."""
        subject, event_id = split_ref(meeting.provider_ref)
        calendar = await self._calendar(subject)
        request = calendar.events().delete(
            calendarId=CALENDAR, eventId=event_id, sendUpdates="none"
        )
        try:
            await self._execute(request, subject, expected=(404, 410))
        except HttpError:
            return  # deleted already, by an earlier try or by hand

    async def join_link_for(
        self, meeting: ProviderMeeting, *, display_name: str, person_key: str | None = None
    ) -> str:
        """The meeting's one Meet link: Google has no per-person link without attendees (see
        the module's docstring); the counselor hosts by being signed in as themselves."""
        return meeting.host_url

    async def _insert_or_find(
        self, calendar: Any, request: ProvisionRequest, event_id: str, subject: str | None
    ) -> dict[str, Any] | None:
        """The inserted event; the one an earlier try made (409); None if that was cancelled."""
        insert = calendar.events().insert(
            calendarId=CALENDAR,
            body=event_body(request, event_id),
            conferenceDataVersion=1,
            sendUpdates="none",
        )
        try:
            return await self._execute(insert, subject, expected=(409,))
        except HttpError:
            pass
        get = calendar.events().get(calendarId=CALENDAR, eventId=event_id)
        try:
            held = await self._execute(get, subject, expected=(404, 410))
        except HttpError:
            return None
        return None if held.get("status") == "cancelled" else held

    async def _conference_ready(
        self, calendar: Any, event: dict[str, Any], subject: str | None
    ) -> dict[str, Any]:
        for delay in (*POLL_DELAYS, None):
            status = conference_status(event)
            if status == "success":
                return event
            if status != "pending":
                raise ProviderRefused(
                    "Google Calendar made the event but no Meet conference for it: check that "
                    f"Google Meet is turned on for {subject or 'the service account'} in the "
                    "Admin console (Apps > Google Workspace > Google Meet)",
                    provider=PROVIDER,
                )
            if delay is None:
                break
            await self._sleep(delay)
            get = calendar.events().get(calendarId=CALENDAR, eventId=event["id"])
            event = await self._execute(get, subject)
        raise ProviderUnavailable(
            "Google is still preparing the Meet conference; try again in a minute",
            provider=PROVIDER,
        )

    def _host_subject(self) -> str | None:
        if not self.impersonate:
            return None
        if not self.host_email:
            raise ProviderRefused(
                "Google Meet makes the meeting as the counselor, and this counselor has no "
                "email address in Lingkar: add the one of their school Google account",
                provider=PROVIDER,
            )
        return self.host_email

    async def _calendar(self, subject: str | None) -> Any:
        """A Calendar client acting as `subject`, built from the discovery document shipped in
        the package (no network); building reads a file, so it happens off the loop too."""
        if subject not in self._acting_as:  # one access token per person acted as
            acting = self._credentials.with_subject(subject) if subject else self._credentials
            self._acting_as[subject] = acting
        http = AuthorizedHttp(self._acting_as[subject], http=self._http_factory())
        return await asyncio.to_thread(
            build, "calendar", "v3", http=http, static_discovery=True, cache_discovery=False
        )

    async def _execute(
        self, request: Any, subject: str | None, *, expected: Collection[int] = ()
    ) -> dict[str, Any]:
        """One API call in a worker thread, retried while the failure is transient. An
        HttpError whose status is `expected` goes to the caller as it is."""
        for delay in (*RETRY_DELAYS, None):
            try:
                answer: dict[str, Any] = await asyncio.to_thread(request.execute)
                return answer
            except HttpError as exc:
                if exc.status_code in expected:
                    raise
                error = api_error(exc, subject)
            except RefreshError as exc:
                error = sign_in_error(exc, subject, self.client_id)
            except (TransportError, httplib2.HttpLib2Error, OSError) as exc:  # time-outs too
                log.warning("google calendar unreachable", extra={"error_type": type(exc).__name__})
                error = ProviderUnavailable(
                    "Google Calendar did not answer in time; try again later", provider=PROVIDER
                )
            if delay is None or not isinstance(error, ProviderUnavailable):
                raise error from None
            # Jitter, so retries of many sessions do not arrive together; not a secret.
            await self._sleep(spread(delay, 0.5))
        raise AssertionError("unreachable")


def _service_account(account: GoogleMeetAccount) -> service_account.Credentials:
    try:
        return service_account.Credentials.from_service_account_info(
            account.service_account_info, scopes=[CALENDAR_SCOPE]
        )
    except (ValueError, KeyError, TypeError):
        raise ProviderRefused(
            "the school's Google service-account key cannot be read: download a new JSON key "
            "for the service account in the Google Cloud console and save it again",
            provider=PROVIDER,
        ) from None


def event_id_for(request: ProvisionRequest, generation: int) -> str:
    """The same id for every try of one request, so Google refuses a second event (409)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    digest = hashlib.sha256(f"{canonical}|{generation}".encode()).digest()[:20]
    return EVENT_ID_PREFIX + base64.b32hexencode(digest).decode().lower()


def provider_ref(subject: str | None, event_id: str) -> str:
    """`{counselor}/{event id}`: update and delete act as the calendar's owner, whoever the
    session's counselor is by then."""
    return f"{subject}/{event_id}" if subject else event_id


def split_ref(ref: str) -> tuple[str | None, str]:
    subject, _, event_id = ref.rpartition("/")
    return subject or None, event_id


def utc_z(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_times(start: datetime, end: datetime) -> dict[str, dict[str, str]]:
    return {
        "start": {"dateTime": utc_z(start), "timeZone": "UTC"},
        "end": {"dateTime": utc_z(end), "timeZone": "UTC"},
    }


def event_body(request: ProvisionRequest, event_id: str) -> dict[str, Any]:
    start = as_utc(request.scheduled_start)
    return {
        "id": event_id,
        "summary": request.title,
        "description": (
            "Made by Lingkar. Members join through their own Lingkar links, which check "
            "consent first: do not share this Meet link."
        ),
        **event_times(start, start + timedelta(minutes=request.duration_minutes)),
        "visibility": "private",
        "guestsCanInviteOthers": False,
        "guestsCanSeeOtherGuests": False,
        "extendedProperties": {"private": {"lingkarSessionId": str(request.session_id)}},
        "conferenceData": {
            "createRequest": {
                "requestId": uuid.uuid4().hex,  # new for each insert, as Google asks
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        },
    }


def conference_status(event: dict[str, Any]) -> str:
    """`success`, `pending` or `failure`; an event with a Meet link and no request is a success."""
    conference = event.get("conferenceData") or {}
    status = ((conference.get("createRequest") or {}).get("status") or {}).get("statusCode")
    if status in ("pending", "failure"):
        return str(status)
    if meet_link(event):
        return "success"
    return "pending" if status == "success" else "failure"  # no request: silently not made


def meet_link(event: dict[str, Any]) -> str:
    if event.get("hangoutLink"):
        return str(event["hangoutLink"])
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return ""


def _instant(when: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(when["dateTime"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return None
