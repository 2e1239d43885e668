"""Which channel a person is told on: their order (or the default), what they have an address
for, what is known to be unreachable, and whether they opted out of non-essential messages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.contacts.models import UnreachableContact
from services.notifications.notifications.service import channels_for
from shared.contracts.notifications import ESSENTIAL_EVENTS, Event, Recipient, is_essential
from tests.notifications.support import (
    Accept,
    accepted,
    deliveries_of,
    host_data,
    notification_body,
    recipient,
)

EVERY_ADDRESS = {"email": "dewi@siswa.example", "telegram_chat_id": "5550001", "phone": "+628123"}


def person(**fields: Any) -> Recipient:
    return Recipient(person_id=uuid.uuid4(), name="Dewi", **fields)


def test_without_an_order_telegram_comes_first_then_whatsapp_then_email() -> None:
    assert channels_for(person(**EVERY_ADDRESS)) == [
        ("telegram", "5550001"),
        ("whatsapp", "+628123"),
        ("email", "dewi@siswa.example"),
    ]


def test_the_persons_own_order_is_kept_and_channels_they_left_out_are_not_used() -> None:
    chosen = person(**EVERY_ADDRESS, channels=["email", "whatsapp"])

    assert channels_for(chosen) == [("email", "dewi@siswa.example"), ("whatsapp", "+628123")]


def test_a_channel_without_an_address_and_an_unreachable_address_are_skipped() -> None:
    someone = person(
        email="dewi@siswa.example", phone="+628123", channels=["telegram", "whatsapp", "email"]
    )

    assert channels_for(someone, {("whatsapp", "+628123")}) == [("email", "dewi@siswa.example")]
    # A new number is tried: it is the address that is unreachable, not the person.
    assert channels_for(someone, {("whatsapp", "+620000")})[0] == ("whatsapp", "+628123")


def test_reminders_and_follow_ups_are_not_essential_and_consent_and_changes_are() -> None:
    assert not is_essential(Event.follow_up_due)
    assert not is_essential("session_reminder")  # any event not listed is non-essential
    for event in (
        Event.consent_requested,
        Event.meeting_provisioned_member,
        Event.session_rescheduled,
        Event.session_cancelled,
        Event.consent_withdrawn,
        Event.contact_unreachable,
    ):
        assert event in ESSENTIAL_EVENTS


async def test_a_follow_up_to_someone_who_opted_out_is_kept_as_opted_out_not_sent(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    opted_out = recipient(name="Bu Rina", opt_out_non_essential=True)
    wants_all = recipient(name="Pak Budi")
    body = notification_body(
        [opted_out, wants_all],
        event="follow_up_due",
        data=host_data(follow_up="short_term", members=["Dewi"]),
    )

    deliveries = await deliveries_of(apps["notifications"], await accepted(accept, body))

    status = {str(d.person_id): (d.status, d.last_error) for d in deliveries}
    assert status[opted_out["person_id"]] == (
        "opted_out",
        "the person opted out of non-essential messages",
    )
    assert status[wants_all["person_id"]] == ("pending", None)


async def test_a_consent_request_reaches_someone_who_opted_out_of_non_essential_ones(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    guardian = recipient(name="Ibu Dewi", opt_out_non_essential=True)
    body = notification_body([guardian], event="consent_requested")

    [delivery] = await deliveries_of(apps["notifications"], await accepted(accept, body))

    assert delivery.status == "pending"


async def test_a_person_reachable_on_no_address_gets_a_delivery_that_says_so(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    app = apps["notifications"]
    dewi = recipient(name="Dewi", telegram_chat_id="5550001", email=None)
    async with AsyncSession(app.state.engine) as db:
        db.add(
            UnreachableContact(
                school_id=uuid.uuid4(),
                person_id=uuid.UUID(dewi["person_id"]),
                channel="telegram",
                address="5550001",
                reason="telegram 403: Forbidden: bot was blocked by the user",
                delivery_id=uuid.uuid4(),
            )
        )
        await db.commit()

    [delivery] = await deliveries_of(app, await accepted(accept, notification_body([dewi])))

    assert (delivery.channel, delivery.status) == ("telegram", "unreachable")
    assert delivery.last_error == "every address of this person is known to be unreachable"


@pytest.mark.usefixtures("channels_configured")
async def test_the_rest_of_the_order_is_kept_to_fall_back_on(
    accept: Accept, apps: dict[str, FastAPI]
) -> None:
    dewi = recipient(name="Dewi", phone="+628123", channels=["whatsapp", "telegram", "email"])

    [delivery] = await deliveries_of(
        apps["notifications"], await accepted(accept, notification_body([dewi]))
    )

    assert (delivery.channel, delivery.address) == ("whatsapp", "+628123")
    assert delivery.fallbacks == [["email", dewi["email"]]]


def test_channels_the_deployment_has_not_set_up_come_last_in_the_persons_order() -> None:
    everything = person(**EVERY_ADDRESS)

    assert channels_for(everything, unconfigured={"telegram"}) == [
        ("whatsapp", "+628123"),
        ("email", "dewi@siswa.example"),
        ("telegram", "5550001"),
    ]
    only_telegram = person(telegram_chat_id="5550001")
    assert channels_for(only_telegram, unconfigured={"telegram", "whatsapp"}) == [
        ("telegram", "5550001")  # still tried: its failure tells the operator what is missing
    ]


async def test_without_a_whatsapp_number_set_up_the_email_goes_first_not_a_dead_letter(
    accept: Accept, apps: dict[str, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = apps["notifications"].state.settings
    monkeypatch.setattr(settings, "whatsapp_access_token", None)
    dewi = recipient(name="Dewi", phone="+628123", channels=["whatsapp", "email"])

    [delivery] = await deliveries_of(
        apps["notifications"], await accepted(accept, notification_body([dewi]))
    )

    assert (delivery.channel, delivery.address) == ("email", dewi["email"])
    assert delivery.fallbacks == [["whatsapp", "+628123"]]


async def test_an_unknown_channel_name_is_refused_with_the_field_named(accept: Accept) -> None:
    answer = await accept(notification_body([recipient(channels=["email", "sms"])]))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["recipients.0.channels.1"]
