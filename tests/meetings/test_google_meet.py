"""Google Meet through a Calendar event, against googleapiclient's own `HttpMockSequence`.

The Calendar client is built from the discovery document shipped in the package (no network).
Google's answers follow the documented shapes; the token request to Google's OAuth endpoint is
HTTP too, served from the same sequence, so the service account's signed assertion (and the
counselor it impersonates) is read back as Google would read it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from googleapiclient.http import HttpMockSequence
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.meetings.providers.accounts import GoogleMeetAccount
from services.meetings.providers.base import ProviderMeeting
from services.meetings.providers.errors import (
    ProviderError,
    ProviderMeetingGone,
    ProviderRefused,
    ProviderUnavailable,
)
from services.meetings.providers.google_meet import (
    CALENDAR_SCOPE,
    POLL_DELAYS,
    RETRY_DELAYS,
    GoogleMeetProvider,
    event_id_for,
)
from shared.contracts.meetings import Clearance, Host, ProvisionRequest, RescheduleRequest
from shared.stages import Provider

COUNSELOR = "sri.wahyuni@sman1-contoh.sch.id"
CLIENT_EMAIL = "lingkar@sman1-lingkar.iam.gserviceaccount.com"
CLIENT_ID = "109876543210987654321"
TOKEN_URI = "https://oauth2.googleapis.com/token"
ACCESS_TOKEN = "ya29.a-fake-access-token-for-the-counselor"
EVENTS = "https://www.googleapis.com/calendar/v3/calendars/primary/events"
MEET_LINK = "https://meet.google.com/abc-mnop-xyz"
START = datetime(2026, 12, 7, 1, 45, tzinfo=UTC)  # 08:45 WIB
DURATION = 60

HOST_ID = uuid.UUID("5d3c7a0e-2b8f-4c61-9e0a-7f4b1c2d3e4f")

JSON = {"status": "200", "content-type": "application/json; charset=UTF-8"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def private_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def service_account_info(private_pem: str) -> dict[str, Any]:
    """A service-account JSON key in Google's format, with a key made for this run."""
    return {
        "type": "service_account",
        "project_id": "sman1-lingkar",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_pem,
        "client_email": CLIENT_EMAIL,
        "client_id": CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
    }


class GoogleFake(HttpMockSequence):
    """Google's answers in order; remembers the thread each request ran on, and raises an
    exception put in the sequence (a time-out) instead of answering."""

    def __init__(self, answers: list[Any]) -> None:
        super().__init__(answers)
        self.threads: list[int] = []

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.get_ident())
        upcoming = self._iterable[0] if self._iterable else None
        if isinstance(upcoming, BaseException):
            self.request_sequence.append((uri, method, kwargs.get("body"), kwargs.get("headers")))
            raise self._iterable.pop(0)
        if upcoming and callable(upcoming):  # an answer made from what was sent
            self._iterable[0] = upcoming(json.loads(kwargs.get("body") or "{}"))
        return super().request(uri, method, *args, **kwargs)

    def calls(self) -> list[tuple[str, str]]:
        return [(method, uri) for uri, method, _, _ in self.request_sequence]

    def body(self, index: int) -> dict[str, Any]:
        raw = self.request_sequence[index][2]
        return dict(json.loads(raw))

    def headers(self, index: int) -> dict[str, str]:
        return dict(self.request_sequence[index][3] or {})


def token_answer() -> tuple[dict[str, str], str]:
    return JSON, json.dumps(
        {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
    )


def token_refused(error: str, description: str) -> tuple[dict[str, str], str]:
    status = "401" if error == "unauthorized_client" else "400"
    body = json.dumps({"error": error, "error_description": description})
    return {**JSON, "status": status}, body


def event(
    event_id: str = "lingkarevent",
    *,
    status_code: str = "success",
    start: str = "2026-12-07T08:45:00+07:00",
    end: str = "2026-12-07T09:45:00+07:00",
    status: str = "confirmed",
) -> tuple[dict[str, str], str]:
    """An event as Calendar answers it; the Meet link appears once the conference is made."""
    conference: dict[str, Any] = {
        "createRequest": {
            "requestId": "any",
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": status_code},
        },
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
    }
    body: dict[str, Any] = {
        "kind": "calendar#event",
        "id": event_id,
        "status": status,
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "summary": "Bimbingan kelompok",
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
        "organizer": {"email": COUNSELOR, "self": True},
        "conferenceData": conference,
    }
    if status_code == "success":
        body["hangoutLink"] = MEET_LINK
        conference["entryPoints"] = [
            {"entryPointType": "video", "uri": MEET_LINK, "label": "meet.google.com/abc-mnop-xyz"},
            {"entryPointType": "phone", "uri": "tel:+62-21-1234-5678", "pin": "123456789"},
        ]
        conference["conferenceId"] = "abc-mnop-xyz"
    return JSON, json.dumps(body)


def inserted(**kwargs: Any) -> Any:
    """Calendar's answer to an insert: the event under the id we chose."""
    return lambda sent: event(sent["id"], **kwargs)


def api_error(status: int, reason: str, message: str) -> tuple[dict[str, str], str]:
    body = {
        "error": {
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    }
    return {**JSON, "status": str(status)}, json.dumps(body)


def provision(title: str = "Bimbingan kelompok") -> ProvisionRequest:
    session_id = uuid.UUID("7b0e1c7e-8f7a-4b7e-9a51-3f1d2f6c0a11")
    return ProvisionRequest(
        school_id=uuid.UUID("0c9b9f6e-1d2a-4a8e-8e7b-6b2f4d9a1c01"),
        session_id=session_id,
        provider=Provider.google_meet,
        title=title,
        scheduled_start=START,
        duration_minutes=DURATION,
        timezone="Asia/Jakarta",
        host=Host(person_id=HOST_ID, name="Ibu Sri Wahyuni", email=COUNSELOR),
        clearance=Clearance(
            session_id=session_id, platform=Provider.google_meet, text_version="t-3"
        ),
    )


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def google(
    info: dict[str, Any],
    fake: GoogleFake,
    *,
    host_email: str | None = COUNSELOR,
    impersonate: bool = True,
) -> tuple[GoogleMeetProvider, Sleeps]:
    sleeps = Sleeps()
    provider = GoogleMeetProvider(
        GoogleMeetAccount(service_account_info=info, impersonate_domain_users=impersonate),
        host_email=host_email,
        http_factory=lambda: fake,
        timeout=10.0,
        sleep=sleeps,
    )
    return provider, sleeps


def assertion_claims(fake: GoogleFake, index: int, private_pem: str) -> dict[str, Any]:
    """The claims of the service account's signed assertion, checked with its public key."""
    uri, method, body, _ = fake.request_sequence[index]
    assert (method, uri) == ("POST", TOKEN_URI)
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    public = RSAKey.import_key(RSAKey.import_key(private_pem).as_pem(private=False))
    return dict(jwt.decode(form["assertion"][0], public).claims)


def query(uri: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(uri).query)


async def test_create_makes_a_calendar_event_with_a_meet_conference_as_the_counselor(
    service_account_info: dict[str, Any], private_pem: str
) -> None:
    event_id = event_id_for(provision(), 0)
    fake = GoogleFake([token_answer(), inserted(status_code="pending"), event(event_id)])
    provider, sleeps = google(service_account_info, fake)

    meeting = await provider.create(provision())

    claims = assertion_claims(fake, 0, private_pem)
    assert claims["sub"] == COUNSELOR
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == CALENDAR_SCOPE
    assert claims["aud"] == TOKEN_URI
    method, uri = fake.calls()[1]
    assert (method, uri.split("?")[0]) == ("POST", EVENTS)
    assert query(uri)["conferenceDataVersion"] == ["1"]
    assert query(uri)["sendUpdates"] == ["none"]
    assert fake.headers(1)["authorization"] == f"Bearer {ACCESS_TOKEN}"
    body = fake.body(1)
    create_request = body["conferenceData"]["createRequest"]
    assert create_request["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert create_request["requestId"]
    assert body["start"] == {"dateTime": "2026-12-07T01:45:00Z", "timeZone": "UTC"}
    assert body["end"] == {"dateTime": "2026-12-07T02:45:00Z", "timeZone": "UTC"}
    assert "attendees" not in body
    assert body["visibility"] == "private"
    assert body["summary"] == "Bimbingan kelompok"
    # pending at first: asked again once, after a pause
    assert body["id"] == event_id
    assert fake.calls()[2] == ("GET", f"{EVENTS}/{event_id}?alt=json")
    assert sleeps == [POLL_DELAYS[0]]
    assert meeting == ProviderMeeting(provider_ref=f"{COUNSELOR}/{event_id}", host_url=MEET_LINK)
    assert len(fake.request_sequence) == 3  # nothing fetched a discovery document


async def test_every_create_sends_a_new_request_id_for_one_event_id(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([token_answer(), inserted(), inserted()])
    provider, _ = google(service_account_info, fake)

    await provider.create(provision())
    await provider.create(provision())

    inserts = [i for i, (method, _) in enumerate(fake.calls()) if method == "POST"][1:]
    first, second = (fake.body(i) for i in inserts)
    assert first["id"] == second["id"]  # the same request: Google refuses a second event
    assert set(first["id"]) <= set("0123456789abcdefghijklmnopqrstuv")  # base32hex
    first_request = first["conferenceData"]["createRequest"]["requestId"]
    assert first_request != second["conferenceData"]["createRequest"]["requestId"]
    other = GoogleFake([token_answer(), event()])
    await google(service_account_info, other)[0].create(provision(title="Another session"))
    assert other.body(1)["id"] != first["id"]


async def test_a_retried_create_carries_on_with_the_event_of_the_first_try(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake(
        [
            token_answer(),
            api_error(409, "duplicate", "The requested identifier already exists."),
            event("lingkarfirsttry"),
        ]
    )
    provider, _ = google(service_account_info, fake)

    meeting = await provider.create(provision())

    inserted = fake.body(1)["id"]
    assert fake.calls()[2] == ("GET", f"{EVENTS}/{inserted}?alt=json")
    assert meeting.provider_ref == f"{COUNSELOR}/lingkarfirsttry"
    assert meeting.host_url == MEET_LINK
    assert [method for method, _ in fake.calls()].count("POST") == 2  # the token, one insert


async def test_a_cancelled_event_of_the_same_request_is_stepped_past(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake(
        [
            token_answer(),
            api_error(409, "duplicate", "The requested identifier already exists."),
            event(status="cancelled"),
            event("lingkarsecond"),
        ]
    )
    provider, _ = google(service_account_info, fake)

    meeting = await provider.create(provision())

    assert fake.body(1)["id"] != fake.body(3)["id"]
    assert meeting.provider_ref == f"{COUNSELOR}/lingkarsecond"


async def test_a_conference_still_pending_is_waited_for_a_bounded_time(
    service_account_info: dict[str, Any],
) -> None:
    pending = [event(status_code="pending") for _ in range(len(POLL_DELAYS) + 1)]
    fake = GoogleFake([token_answer(), *pending])
    provider, sleeps = google(service_account_info, fake)

    with pytest.raises(ProviderUnavailable) as unavailable:
        await provider.create(provision())

    assert sleeps == list(POLL_DELAYS)
    assert unavailable.value.status == 503
    assert not fake._iterable


async def test_a_conference_google_would_not_make_is_refused(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([token_answer(), event(status_code="failure")])
    provider, _ = google(service_account_info, fake)

    with pytest.raises(ProviderRefused) as refused:
        await provider.create(provision())

    assert "Google Meet is turned on" in refused.value.detail
    assert COUNSELOR in refused.value.detail


async def test_an_unauthorised_service_account_tells_the_admin_what_to_authorise(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake(
        [
            token_refused(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        ]
    )
    provider, _ = google(service_account_info, fake)

    with pytest.raises(ProviderRefused) as refused:
        await provider.create(provision())

    detail = refused.value.detail
    assert refused.value.status == 409
    assert "has not authorised Lingkar's service account for domain-wide delegation" in detail
    assert CLIENT_ID in detail
    assert CALENDAR_SCOPE in detail
    assert "Admin console > Security > API controls" in detail
    assert fake.calls() == [("POST", TOKEN_URI)]  # nothing was sent to Calendar


async def test_a_counselor_unknown_to_the_workspace_is_named(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([token_refused("invalid_grant", "Invalid email or User ID")])
    provider, _ = google(service_account_info, fake)

    with pytest.raises(ProviderRefused) as refused:
        await provider.create(provision())

    assert (
        f"the counselor's Google account {COUNSELOR} does not exist in the school's Workspace"
        in refused.value.detail
    )
    assert "service account key is wrong" in refused.value.detail


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            RefreshError(
                "unauthorized_client: Client is unauthorized to retrieve access tokens.",
                {"error": "unauthorized_client"},
            ),
            "domain-wide delegation",
        ),
        (RefreshError("invalid_grant: Invalid email or User ID"), "does not exist"),
    ],
)
async def test_refresh_errors_raised_by_google_auth_are_mapped(
    service_account_info: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    error: RefreshError,
    expected: str,
) -> None:
    def refuse(self: service_account.Credentials, request: Any) -> None:
        raise error

    monkeypatch.setattr(service_account.Credentials, "refresh", refuse)
    provider, _ = google(service_account_info, GoogleFake([]))

    with pytest.raises(ProviderRefused, match=expected):
        await provider.create(provision())


async def test_without_impersonation_the_service_account_acts_as_itself(
    service_account_info: dict[str, Any], private_pem: str
) -> None:
    fake = GoogleFake([token_answer(), event("lingkarown")])
    provider, _ = google(service_account_info, fake, host_email=None, impersonate=False)

    meeting = await provider.create(provision())

    assert "sub" not in assertion_claims(fake, 0, private_pem)
    assert meeting.provider_ref == "lingkarown"


async def test_impersonation_needs_the_counselors_email(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([])
    provider, _ = google(service_account_info, fake, host_email=None)

    with pytest.raises(ProviderRefused, match="no email address"):
        await provider.create(provision())
    assert fake.calls() == []


async def test_reschedule_moves_the_event_in_utc_and_reads_it_back(
    service_account_info: dict[str, Any], private_pem: str
) -> None:
    moved = dict(start="2026-12-08T09:00:00+07:00", end="2026-12-08T10:30:00+07:00")
    fake = GoogleFake([token_answer(), event(**moved), event(**moved)])
    provider, _ = google(service_account_info, fake, host_email=None)  # the ref names the owner
    meeting = ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkarevent", host_url=MEET_LINK)

    await provider.update(
        meeting,
        RescheduleRequest(
            scheduled_start=datetime(2026, 12, 8, 2, 0, tzinfo=UTC),
            duration_minutes=90,
            title="Bimbingan kelompok (pindah)",
        ),
    )

    assert assertion_claims(fake, 0, private_pem)["sub"] == COUNSELOR
    method, uri = fake.calls()[1]
    assert (method, uri.split("?")[0]) == ("PATCH", f"{EVENTS}/lingkarevent")
    assert query(uri)["sendUpdates"] == ["none"]
    assert fake.body(1) == {
        "summary": "Bimbingan kelompok (pindah)",
        "start": {"dateTime": "2026-12-08T02:00:00Z", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-08T03:30:00Z", "timeZone": "UTC"},
    }
    assert fake.calls()[2] == ("GET", f"{EVENTS}/lingkarevent?alt=json")


async def test_a_reschedule_google_did_not_keep_is_reported(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([token_answer(), event(), event()])  # still at the old time
    provider, _ = google(service_account_info, fake)
    meeting = ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkarevent", host_url=MEET_LINK)
    change = RescheduleRequest(
        scheduled_start=START + timedelta(days=1), duration_minutes=DURATION, title="t"
    )

    with pytest.raises(ProviderUnavailable, match="did not keep the new time"):
        await provider.update(meeting, change)


async def test_rescheduling_an_event_deleted_in_google_says_so(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake([token_answer(), api_error(404, "notFound", "Not Found")])
    provider, _ = google(service_account_info, fake)
    meeting = ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkargone", host_url=MEET_LINK)
    change = RescheduleRequest(
        scheduled_start=START + timedelta(days=1), duration_minutes=DURATION, title="t"
    )

    with pytest.raises(ProviderMeetingGone) as gone:
        await provider.update(meeting, change)
    assert gone.value.status == 409


@pytest.mark.parametrize(
    "answer",
    [
        ({"status": "204"}, ""),
        api_error(404, "notFound", "Not Found"),
        api_error(410, "deleted", "Resource has been deleted"),
    ],
)
async def test_cancel_deletes_the_event_and_one_already_gone_is_fine(
    service_account_info: dict[str, Any], private_pem: str, answer: tuple[dict[str, str], str]
) -> None:
    fake = GoogleFake([token_answer(), answer])
    provider, _ = google(service_account_info, fake, host_email="someone-else@sman1.sch.id")
    meeting = ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkarevent", host_url=MEET_LINK)

    await provider.delete(meeting)

    assert assertion_claims(fake, 0, private_pem)["sub"] == COUNSELOR  # the calendar's owner
    method, uri = fake.calls()[1]
    assert (method, uri.split("?")[0]) == ("DELETE", f"{EVENTS}/lingkarevent")
    assert query(uri)["sendUpdates"] == ["none"]


async def test_a_5xx_is_retried_with_backoff_and_then_succeeds(
    service_account_info: dict[str, Any],
) -> None:
    fake = GoogleFake(
        [token_answer(), api_error(503, "backendError", "Backend Error"), event("lingkarok")]
    )
    provider, sleeps = google(service_account_info, fake)

    meeting = await provider.create(provision())

    assert meeting.provider_ref == f"{COUNSELOR}/lingkarok"
    assert fake.body(1)["id"] == fake.body(2)["id"]  # the same keyed insert, sent again
    assert len(sleeps) == 1
    assert RETRY_DELAYS[0] * 0.5 <= sleeps[0] <= RETRY_DELAYS[0] * 1.5


async def test_429_after_every_retry_is_unavailable(service_account_info: dict[str, Any]) -> None:
    limited = api_error(429, "rateLimitExceeded", "Rate Limit Exceeded")
    fake = GoogleFake([token_answer(), limited, limited, limited])
    provider, sleeps = google(service_account_info, fake)

    with pytest.raises(ProviderUnavailable):
        await provider.create(provision())
    assert len(sleeps) == len(RETRY_DELAYS)


async def test_a_time_out_is_retried_then_reported_unavailable(
    service_account_info: dict[str, Any],
) -> None:
    timeouts = [TimeoutError("timed out") for _ in range(len(RETRY_DELAYS) + 1)]
    fake = GoogleFake([token_answer(), *timeouts])
    provider, sleeps = google(service_account_info, fake)

    with pytest.raises(ProviderUnavailable, match="did not answer in time") as unavailable:
        await provider.delete(
            ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkarevent", host_url=MEET_LINK)
        )
    assert unavailable.value.status == 503
    assert len(sleeps) == len(RETRY_DELAYS)


def test_the_default_http_client_has_the_time_out(service_account_info: dict[str, Any]) -> None:
    provider = GoogleMeetProvider(
        GoogleMeetAccount(service_account_info=service_account_info),
        host_email=COUNSELOR,
        timeout=7.5,
    )
    http = provider._http_factory()
    assert isinstance(http, httplib2.Http)
    assert http.timeout == 7.5


async def test_google_calls_run_off_the_event_loop(service_account_info: dict[str, Any]) -> None:
    fake = GoogleFake([token_answer(), event(status_code="pending"), event()])
    provider, _ = google(service_account_info, fake)
    loop_thread = threading.get_ident()

    await provider.create(provision())

    assert len(fake.threads) == 3
    assert loop_thread not in fake.threads
    assert asyncio.get_running_loop().is_running()


async def test_a_member_is_sent_to_the_one_meet_link(service_account_info: dict[str, Any]) -> None:
    fake = GoogleFake([])
    provider, _ = google(service_account_info, fake)
    meeting = ProviderMeeting(provider_ref=f"{COUNSELOR}/lingkarevent", host_url=MEET_LINK)

    link = await provider.join_link_for(meeting, display_name="Ani", person_key="p-ani")

    assert link == MEET_LINK
    assert fake.calls() == []  # no attendee added, so Google emails nobody


def test_an_unreadable_key_is_refused_without_echoing_it(
    service_account_info: dict[str, Any],
) -> None:
    broken = {**service_account_info, "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n"}
    with pytest.raises(ProviderRefused) as refused:
        GoogleMeetProvider(
            GoogleMeetAccount(service_account_info=broken), host_email=COUNSELOR, timeout=5
        )
    assert "nope" not in refused.value.detail
    assert "download a new JSON key" in refused.value.detail


async def test_no_key_or_token_in_logs_errors_or_repr(
    service_account_info: dict[str, Any], private_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = GoogleFake(
        [
            token_answer(),
            api_error(403, "forbidden", "Forbidden"),
            token_refused("invalid_grant", "Invalid email or User ID"),
        ]
    )
    provider, _ = google(service_account_info, fake)
    errors: list[ProviderError] = []
    with pytest.raises(ProviderRefused) as first:
        await provider.create(provision())
    errors.append(first.value)
    with pytest.raises(ProviderRefused) as second:
        await provider.delete(ProviderMeeting(provider_ref="x@y.sch.id/lingkarz", host_url=""))
    errors.append(second.value)

    shown = (
        caplog.text + repr(provider) + "".join(e.detail + json.dumps(e.extensions) for e in errors)
    )
    key_body = "".join(private_pem.splitlines()[1:-1])
    for secret in (ACCESS_TOKEN, key_body, private_pem.splitlines()[1]):
        assert secret not in shown
    assert "PRIVATE KEY" not in shown
