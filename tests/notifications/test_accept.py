"""Accepting a notification: stored with its deliveries before the 202, once per key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.inbox.models import InboxItem
from services.notifications.notifications.models import Notification
from shared.contracts.notifications import Event
from tests.notifications.support import (
    Accept,
    deliveries_of,
    host_data,
    notification_body,
    recipient,
)


async def stored_notification(app: FastAPI, key: str) -> Notification | None:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        rows = await db.exec(select(Notification).where(Notification.idempotency_key == key))
        return rows.first()


async def test_one_recipient_with_email_is_accepted_with_one_delivery(accept: Accept) -> None:
    answer = await accept(notification_body())

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert uuid.UUID(body["id"])
    assert body["status"] == "accepted"
    assert body["deliveries"] == 1


async def test_notification_and_delivery_are_stored_before_the_answer(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    person = recipient(locale="en", timezone="Asia/Jayapura", name="Pak Yosef")
    request = notification_body([person], data=host_data(session_title="Karier"))

    answer = await accept(request)

    assert answer.status_code == 202, answer.text
    stored = await stored_notification(apps["notifications"], request["idempotency_key"])
    assert stored is not None
    assert str(stored.id) == answer.json()["id"]
    assert str(stored.school_id) == request["school_id"]
    assert stored.event == "meeting_provisioned_host"
    assert stored.data["session_title"] == "Karier"
    [delivery] = await deliveries_of(apps["notifications"], stored.id)
    assert delivery.status == "pending"
    assert delivery.attempts == 0
    assert delivery.channel == "email"
    assert delivery.address == person["email"]
    assert str(delivery.person_id) == person["person_id"]
    assert delivery.person_name == "Pak Yosef"
    assert (delivery.locale, delivery.timezone) == ("en", "Asia/Jayapura")


async def test_the_same_key_again_gives_the_same_id_and_no_second_delivery(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    request = notification_body([recipient(), recipient()])

    first = await accept(request)
    again = await accept(request)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["deliveries"] == first.json()["deliveries"] == 2
    assert len(await deliveries_of(apps["notifications"], first.json()["id"])) == 2


async def test_the_same_request_several_times_at_once_makes_one_notification(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    """A retry racing its original (a relay's time-out, then its retry) used to fail on the
    unique key with a 500; each now waits for the first and answers what it made."""
    request = notification_body([recipient(), recipient()])

    answers = await asyncio.gather(*(accept(request) for _ in range(6)))

    assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await deliveries_of(apps["notifications"], answers[0].json()["id"])) == 2


OTHER_EVENT = next(e.value for e in Event if e != Event.meeting_provisioned_host)


@pytest.mark.parametrize("field", ["school_id", "event"])
async def test_the_same_key_for_another_school_or_event_is_a_409_conflict(
    field: str, accept: Accept, apps: dict[str, FastAPI]
) -> None:
    request = notification_body()
    first = await accept(request)
    assert first.status_code == 202, first.text
    change = {"school_id": str(uuid.uuid4()), "event": OTHER_EVENT}[field]

    answer = await accept({**request, field: change})

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "idempotency key" in answer.json()["detail"]
    assert len(await deliveries_of(apps["notifications"], first.json()["id"])) == 1
    stored = await stored_notification(apps["notifications"], request["idempotency_key"])
    assert stored is not None
    assert (str(stored.school_id), stored.event) == (request["school_id"], request["event"])


async def test_an_unknown_event_is_refused_not_stored(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    request = notification_body(event="meeting_cancelled_by_magic")

    answer = await accept(request)

    assert answer.status_code == 422, answer.text
    assert "event" in [e["field"] for e in answer.json()["errors"]]
    assert await stored_notification(apps["notifications"], request["idempotency_key"]) is None


async def test_a_nul_character_in_the_key_is_422_naming_it_not_a_500(accept: Accept) -> None:
    # Found by the fuzzer on PostgreSQL, which cannot store NUL: the lookup by key was a 500.
    request = notification_body()
    request["idempotency_key"] = "key-with-\x00-inside"

    answer = await accept(request)

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["idempotency_key"]


async def test_recipients_with_no_address_are_told_in_their_inbox_only(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    request = notification_body([recipient(email=None), recipient(email=None)])

    answer = await accept(request)

    assert answer.status_code == 202, answer.text
    assert answer.json()["deliveries"] == 0
    stored = await stored_notification(apps["notifications"], request["idempotency_key"])
    assert stored is not None
    async with AsyncSession(apps["notifications"].state.engine) as db:
        items = await db.exec(select(InboxItem).where(InboxItem.notification_id == stored.id))
        people = {str(item.person_id) for item in items.all()}
    assert people == {r["person_id"] for r in request["recipients"]}


async def test_only_recipients_with_an_address_get_a_delivery(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    reachable = recipient()
    request = notification_body([recipient(email=None), reachable])

    answer = await accept(request)

    assert answer.status_code == 202, answer.text
    assert answer.json()["deliveries"] == 1
    [delivery] = await deliveries_of(apps["notifications"], answer.json()["id"])
    assert delivery.address == reachable["email"]


async def test_without_a_service_token_nothing_is_accepted(
    notifications: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    request = notification_body()

    answer = await notifications.post("/internal/v1/notifications", json=request)

    assert answer.status_code == 401, answer.text
    assert await stored_notification(apps["notifications"], request["idempotency_key"]) is None


async def test_a_service_token_for_another_service_is_refused(
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
    apps: dict[str, FastAPI],
) -> None:
    request = notification_body()

    answer = await notifications.post(
        "/internal/v1/notifications",
        json=request,
        headers={"Authorization": f"Bearer {service_token('meetings')}"},
    )

    assert answer.status_code == 401, answer.text
    assert await stored_notification(apps["notifications"], request["idempotency_key"]) is None
