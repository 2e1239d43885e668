"""The in-app inbox through the public API: every notification to a person, in their words."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.inbox import service as inbox_service
from services.notifications.notifications.models import Notification
from shared.timeutil import utcnow
from tests.api.test_gate import ADULT, ready_to_provision
from tests.factories import SchoolKit, bearer, eventually, grant_consent
from tests.notifications.support import Accept, host_data, notification_body, recipient


@dataclass
class Person:
    """A user of a school and a token acting as them."""

    user: dict[str, Any]
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def person(school: SchoolKit, role: str = "student", **extra: Any) -> Person:
    user = await school.user(role, email=f"{role}-{uuid.uuid4().hex[:8]}@siswa.example", **extra)
    return Person(user=user, token=await school.token_for(user["id"]))


async def tell(accept: Accept, school: SchoolKit, *people: Person, **overrides: Any) -> str:
    """Accept a notification for these people of the school, as the api would send it."""
    to = [
        recipient(
            person_id=p.user["id"],
            name=p.user["name"],
            email=p.user["email"],
            locale=p.user["locale"],
            timezone=p.user["timezone"],
        )
        for p in people
    ]
    answer = await accept(notification_body(to, school_id=str(school.school_id), **overrides))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def inbox_of(api: httpx.AsyncClient, who: Person, **params: Any) -> dict[str, Any]:
    answer = await api.get("/v1/me/inbox", params=params, headers=who.auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def every_page(api: httpx.AsyncClient, who: Person, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await inbox_of(api, who, **params)
        pages.append([item["title"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def guided_session(
    school: SchoolKit, counselor: Person, students: list[Person]
) -> dict[str, Any]:
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok Belajar",
            "counselor_id": counselor.user["id"],
            "member_ids": [s.user["id"] for s in students],
            "field": "learning",
        },
    )
    session = await school.session(group)
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    return session


def titles(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["event"], item["title"]) for item in page["items"]]


async def test_consent_requests_and_links_reach_each_persons_inbox_in_their_language(
    school: SchoolKit, apps: dict[str, FastAPI], api: httpx.AsyncClient
) -> None:
    counselor = await person(school, "counselor")
    siti = await person(school, birth_date=ADULT)
    yosef = await person(school, birth_date=ADULT, locale="en", timezone="Asia/Jayapura")
    session = await guided_session(school, counselor, [siti, yosef])
    sid, title = session["id"], session["title"]

    await school.post(f"/v1/sessions/{sid}/consent-requests", {})

    async def asked(who: Person) -> Any:
        return (await inbox_of(api, who))["items"]

    # Each person's request is its own outbox message: they arrive one after the other.
    [request] = await eventually(lambda: asked(yosef))
    assert request["event"] == "consent_requested" and request["session_id"] == sid
    assert request["title"] == f"Your consent, please: {title}"
    assert "Read what it means and decide here: " in request["text"]
    assert "/v1/consent/" in request["text"]  # their own link, as in the email
    assert "WIT" in request["text"]  # the session's time in Yosef's own zone
    [asked_siti] = await eventually(lambda: asked(siti))
    assert asked_siti["title"] == f"Mohon persetujuan: {title}"
    assert (await inbox_of(api, counselor))["items"] == []

    for student in (siti, yosef):
        await grant_consent(apps["api"], session=session, student_id=student.user["id"])
    await ready_to_provision(school, session)

    async def linked() -> Any:
        page = await inbox_of(api, siti)
        return page if len(page["items"]) == 2 else None

    siti_inbox = await eventually(linked)
    assert titles(siti_inbox) == [
        ("meeting_provisioned_member", f"Tautan Anda untuk sesi {title}"),
        ("consent_requested", f"Mohon persetujuan: {title}"),
    ]
    own_link = siti_inbox["items"][0]["text"]
    assert "/j/" in own_link and "/h/" not in own_link
    host = await eventually(lambda: _events(api, counselor))
    assert host == ["meeting_provisioned_host"]
    counselor_item = (await inbox_of(api, counselor))["items"][0]
    assert counselor_item["title"] == f"Tautan pertemuan: {title}"
    assert "/h/" in counselor_item["text"]


async def _events(api: httpx.AsyncClient, who: Person) -> list[str]:
    return [item["event"] for item in (await inbox_of(api, who))["items"]]


async def test_unread_count_falls_as_items_are_read_one_by_one_or_all_at_once(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept
) -> None:
    rina = await person(school)
    for _ in range(3):
        await tell(accept, school, rina)
    page = await inbox_of(api, rina)
    assert page["unread_count"] == 3
    assert all(item["read_at"] is None for item in page["items"])

    first = page["items"][0]["id"]
    marked = await api.post(f"/v1/me/inbox/{first}/read", headers=rina.auth)
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 1, "unread_count": 2}
    again = await api.post(f"/v1/me/inbox/{first}/read", headers=rina.auth)
    assert again.json() == {"marked": 0, "unread_count": 2}
    unread = await inbox_of(api, rina, unread="true")
    assert first not in [item["id"] for item in unread["items"]]
    assert len(unread["items"]) == 2

    everything = await api.post("/v1/me/inbox/read-all", headers=rina.auth)
    assert everything.json() == {"marked": 2, "unread_count": 0}
    assert (await inbox_of(api, rina, unread="true"))["items"] == []
    assert all(item["read_at"] for item in (await inbox_of(api, rina))["items"])


async def test_paging_shows_every_item_once_while_new_ones_arrive(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept
) -> None:
    dewi = await person(school)

    async def send(n: int) -> None:
        await tell(accept, school, dewi, data=host_data(session_title=f"Pesan {n}"))

    for n in range(1, 6):
        await send(n)
    first = await inbox_of(api, dewi, limit=2)
    seen = [item["title"] for item in first["items"]]
    cursor = first["next_cursor"]
    for n in (6, 7):
        await send(n)  # arrive while the reader is on page one
    while cursor:
        page = await inbox_of(api, dewi, limit=2, cursor=cursor)
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]

    assert seen == [f"Tautan pertemuan: Pesan {n}" for n in (5, 4, 3, 2, 1)]
    fresh = [[t.rsplit(" ", 1)[1] for t in page] for page in await every_page(api, dewi, 3)]
    assert fresh == [["7", "6", "5"], ["4", "3", "2"], ["1"]]


async def test_a_bad_cursor_or_limit_is_a_422_naming_the_field(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    ana = await person(school)
    for params, field in (({"cursor": "not-ours"}, "cursor"), ({"limit": 1000}, "limit")):
        answer = await api.get("/v1/me/inbox", params=params, headers=ana.auth)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in answer.text


@dataclass
class Clock:
    now: datetime


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The inbox's clock: what "its time has come" is measured against."""
    frozen = Clock(utcnow())
    monkeypatch.setattr(inbox_service, "utcnow", lambda: frozen.now)
    return frozen


async def test_a_scheduled_notification_shows_only_once_its_time_has_come(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept, clock: Clock
) -> None:
    budi = await person(school)
    due = clock.now + timedelta(hours=24)
    await tell(accept, school, budi, deliver_after=due.isoformat())

    page = await inbox_of(api, budi)
    assert (page["items"], page["unread_count"]) == ([], 0)
    marked = await api.post("/v1/me/inbox/read-all", headers=budi.auth)
    assert marked.json()["marked"] == 0  # what is not shown yet cannot be read

    clock.now = due + timedelta(seconds=1)
    page = await inbox_of(api, budi)
    [item] = page["items"]
    assert page["unread_count"] == 1
    assert datetime.fromisoformat(item["at"]) == due


async def test_a_student_with_no_address_finds_the_consent_request_in_the_inbox(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    counselor = await person(school, "counselor")
    nina = await school.user("student", birth_date=ADULT)  # no email, phone or Telegram
    nina_person = Person(user=nina, token=await school.token_for(nina["id"]))
    other = await person(school, birth_date=ADULT)
    session = await guided_session(school, counselor, [nina_person, other])

    await school.post(f"/v1/sessions/{session['id']}/consent-requests", {})

    async def asked() -> Any:
        return (await inbox_of(api, nina_person))["items"]

    [request] = await eventually(asked)
    assert request["event"] == "consent_requested" and "/v1/consent/" in request["text"]


async def test_a_notification_called_off_leaves_the_inbox(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept, apps: dict[str, FastAPI]
) -> None:
    wati = await person(school)
    await tell(accept, school, wati, data=host_data(session_title="Tetap"))
    called_off = await tell(accept, school, wati, data=host_data(session_title="Batal"))
    [gone, _] = (await inbox_of(api, wati))["items"]

    # What the calendar's "cancel scheduled notifications" call writes.
    async with AsyncSession(apps["notifications"].state.engine) as db:
        await db.exec(
            update(Notification)
            .where(col(Notification.id) == uuid.UUID(called_off))
            .values(cancelled_at=utcnow())
        )
        await db.commit()

    page = await inbox_of(api, wati)
    assert [item["title"] for item in page["items"]] == ["Tautan pertemuan: Tetap"]
    assert page["unread_count"] == 1
    answer = await api.post(f"/v1/me/inbox/{gone['id']}/read", headers=wati.auth)
    assert answer.status_code == 404, answer.text


async def test_a_student_sees_only_their_own_inbox(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept
) -> None:
    mine, theirs = await person(school), await person(school)
    await tell(accept, school, mine, data=host_data(session_title="Untukku"))
    await tell(accept, school, theirs, data=host_data(session_title="Untuknya"))
    await tell(accept, school, mine, theirs, data=host_data(session_title="Berdua"))

    assert [i["title"] for i in (await inbox_of(api, mine))["items"]] == [
        "Tautan pertemuan: Berdua",
        "Tautan pertemuan: Untukku",
    ]
    [their_own, _] = (await inbox_of(api, theirs))["items"]
    answer = await api.post(f"/v1/me/inbox/{their_own['id']}/read", headers=mine.auth)
    assert answer.status_code == 404, answer.text
    assert (await inbox_of(api, theirs))["unread_count"] == 2


async def test_another_schools_inbox_item_is_not_found(
    school: SchoolKit, other_school: SchoolKit, api: httpx.AsyncClient, accept: Accept
) -> None:
    here = await person(school)
    await tell(accept, school, here)
    [item] = (await inbox_of(api, here))["items"]
    there = await person(other_school)

    answer = await api.post(f"/v1/me/inbox/{item['id']}/read", headers=there.auth)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert (await inbox_of(api, there))["items"] == []
    assert (await inbox_of(api, here))["unread_count"] == 1


async def test_an_admin_client_acting_as_nobody_has_no_inbox(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    answer = await api.get("/v1/me/inbox", headers=school.auth)
    assert answer.status_code == 403, answer.text
    assert "act as one of the school's users" in answer.json()["detail"]


async def test_the_internal_inbox_routes_want_a_service_token(
    school: SchoolKit, notifications: httpx.AsyncClient, accept: Accept
) -> None:
    eka = await person(school)
    await tell(accept, school, eka)
    base = f"/internal/v1/schools/{school.school_id}/people/{eka.user['id']}/inbox"
    for method, path in (("GET", base), ("POST", f"{base}/read-all")):
        answer = await notifications.request(method, path, headers=eka.auth)
        assert answer.status_code == 401, answer.text
    dead = f"/internal/v1/schools/{school.school_id}/deliveries/dead"
    assert (await notifications.get(dead)).status_code == 401
