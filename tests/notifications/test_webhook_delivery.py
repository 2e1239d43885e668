"""Webhooks reach a real receiver on loopback, signed so that `standardwebhooks` verifies them,
and are retried, held back or given up as the receiver answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from services.notifications.notifications.models import Notification
from services.notifications.webhooks import delivery
from services.notifications.webhooks.delivery import WebhookSender
from services.notifications.worker import Worker
from shared.timeutil import as_utc, utcnow
from tests.factories import SchoolKit, eventually
from tests.notifications.support import Accept, notification_body, recipient
from tests.notifications.webhook_support import (
    Answer,
    Clock,
    Received,
    Receiver,
    messages_of,
)

pytestmark = pytest.mark.usefixtures("quiet_webhooks", "private_networks_allowed")

PATH = "/v1/school/webhooks"


def consent_data(**overrides: Any) -> dict[str, Any]:
    """A consent request's data as the api sends it: the link and the name included."""
    return {
        "session_title": "Mengelola stres menjelang ujian",
        "scheduled_start": "2026-12-08T01:00:00+00:00",
        "duration_minutes": 60,
        "provider": "jitsi",
        "student_id": str(uuid.uuid4()),
        "student_name": "Dewi Lestari",
        "signer": "guardian",
        "consent_url": "http://127.0.0.1:8000/v1/consent/eyJzZWNyZXQtdG9rZW4",
        "expires_at": "2026-12-05T01:00:00+00:00",
        **overrides,
    }


async def subscribe(school: SchoolKit, url: str, events: list[str]) -> dict[str, Any]:
    return dict(await school.post(PATH, {"url": url, "events": events}))


async def notify(accept: Accept, school: SchoolKit, event: str, data: dict[str, Any]) -> str:
    body = notification_body(school_id=str(school.school_id), event=event, data=data)
    answer = await accept(body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def verified(secret: str, request: Received) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


async def test_a_notification_becomes_a_signed_event_without_links_or_addresses(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
) -> None:
    made = await subscribe(school, receiver.url, ["consent_requested"])
    guardian = recipient(email="ibu.dewi@example.id", phone="+6281234567890")
    data = consent_data()
    body = notification_body(
        [guardian], school_id=str(school.school_id), event="consent_requested", data=data
    )
    accepted = (await accept(body)).json()

    assert await make_sender().run_once() == 1

    [request] = receiver.requests()
    event = verified(made["secret"], request)
    assert request.path == "/lingkar/hooks"
    assert request.headers["webhook-id"].startswith("msg_")
    assert event["type"] == "consent_requested"
    assert event["data"] == {
        "notification_id": accepted["id"],
        "school_id": str(school.school_id),
        "session_id": body["session_id"],
        "recipient_ids": [guardian["person_id"]],
        "session_title": data["session_title"],
        "scheduled_start": data["scheduled_start"],
        "duration_minutes": 60,
        "provider": "jitsi",
        "student_id": data["student_id"],
        "signer": "guardian",
        "expires_at": data["expires_at"],
    }
    text = request.body.decode()
    for private in ("/v1/consent/", "ibu.dewi@example.id", "+6281234567890", "Dewi Lestari"):
        assert private not in text


async def test_a_signature_by_another_secret_does_not_verify(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
) -> None:
    await subscribe(school, receiver.url, ["consent_requested"])
    await notify(accept, school, "consent_requested", consent_data())
    await make_sender().run_once()
    [request] = receiver.requests()
    with pytest.raises(WebhookVerificationError):
        verified("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", request)


async def test_during_a_rotation_both_secrets_verify_and_after_the_grace_only_the_new(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    rotated = await school.post(f"{PATH}/{made['id']}/rotate-secret", {}, expect=200)
    await notify(accept, school, "session_cancelled", consent_data(reason="Ujian susulan"))
    await make_sender().run_once()

    # A grace that is already over: the next message is signed with the new secret alone.
    settings = apps["notifications"].state.settings
    monkeypatch.setattr(settings, "webhook_rotation_grace_seconds", 0.0)
    again = await school.post(f"{PATH}/{made['id']}/rotate-secret", {}, expect=200)
    await notify(accept, school, "session_cancelled", consent_data(reason="Libur"))
    await make_sender().run_once()

    during, after = receiver.requests()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(made["secret"], during) == verified(rotated["secret"], during)
    assert verified(again["secret"], after)["data"]["reason"] == "Libur"
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        verified(rotated["secret"], after)


async def test_a_failed_send_is_retried_with_the_same_webhook_id_until_it_is_taken(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
    clock: Clock,
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data(reason="Banjir"))
    receiver.answer(Answer(500))
    sender = make_sender()

    await sender.run_once()
    [message] = await messages_of(apps["notifications"], made["id"])
    assert (message.status, message.attempts, message.last_status) == ("pending", 1, 500)
    assert await sender.run_once() == 0  # not due again before its wait
    clock.jump_to(as_utc(message.next_attempt_at))
    assert await sender.run_once() == 1

    first, second = receiver.requests()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert verified(made["secret"], second)["data"]["reason"] == "Banjir"
    [message] = await messages_of(apps["notifications"], made["id"])
    assert (message.status, message.attempts, message.last_status) == ("sent", 2, 200)


async def test_a_429_with_retry_after_is_not_sent_again_before_that_time(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
    clock: Clock,
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    receiver.answer(Answer(429, {"Retry-After": "120"}))
    sender = make_sender()

    started = clock()
    await sender.run_once()
    [message] = await messages_of(apps["notifications"], made["id"])
    assert as_utc(message.next_attempt_at) - started >= timedelta(seconds=120)
    clock.advance(seconds=100)  # past the schedule's 5 s, short of what the receiver asked
    assert await sender.run_once() == 0
    clock.advance(seconds=21)
    assert await sender.run_once() == 1
    assert len(receiver.requests()) == 2
    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "sent"


async def test_a_410_disables_the_subscription_and_says_so(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    receiver.answer(Answer(410))

    await make_sender().run_once()

    shown = await school.get(f"{PATH}/{made['id']}")
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "dead"
    await notify(accept, school, "session_cancelled", consent_data())
    assert len(await messages_of(apps["notifications"], made["id"])) == 1  # no new event
    resumed = await school.api.patch(
        f"{PATH}/{made['id']}", json={"enabled": True}, headers=school.auth
    )
    assert resumed.json()["enabled"] is True and resumed.json()["disabled_reason"] is None


async def test_a_receiver_that_keeps_failing_is_tried_for_about_three_days_then_given_up(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
    clock: Clock,
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    receiver.answer(*[Answer(404)] * 20)  # a 4xx the receiver may yet fix: retried too
    sender = make_sender()

    waits = []
    for _ in range(delivery.MAX_ATTEMPTS):
        before = clock()
        assert await sender.run_once() == 1
        [message] = await messages_of(apps["notifications"], made["id"])
        if message.status != "pending":
            break
        waits.append(as_utc(message.next_attempt_at) - before)
        clock.jump_to(as_utc(message.next_attempt_at))

    assert message.status == "dead" and message.last_status == 404
    assert len(receiver.requests()) == delivery.MAX_ATTEMPTS == len(waits) + 1
    planned = [5, 300, 1800, 7200, 18000, *[36000] * 6]
    for wait, seconds in zip(waits, planned, strict=True):
        assert seconds * 0.79 <= wait.total_seconds() <= seconds * 1.21
    assert timedelta(days=2.3) < sum(waits, timedelta()) < timedelta(days=3.4)
    assert await sender.run_once() == 0


async def test_jitter_spreads_the_retries_of_many_messages() -> None:
    waits = {delivery.retry_delay(3).total_seconds() for _ in range(50)}
    assert len(waits) > 40 and min(waits) >= 1800 * 0.8 and max(waits) <= 1800 * 1.2
    assert delivery.retry_delay(delivery.MAX_ATTEMPTS) is None


async def test_a_slow_receiver_times_out_and_is_retried(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    receiver.answer(Answer(200, delay=1.0))

    await make_sender(webhook_timeout_seconds=0.2).run_once()

    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "pending" and message.attempts == 1
    assert message.last_error == "no answer within 0.2 s"


async def test_a_redirect_is_not_followed(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    receiver.answer(Answer(307, {"Location": "http://169.254.169.254/latest/meta-data/"}))

    await make_sender().run_once()

    assert len(receiver.requests()) == 1
    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "pending" and "redirect, not followed" in str(message.last_error)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_destination_is_refused_at_send_time_too(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
    host: str,
) -> None:
    # Subscribed while the operator allowed it (or while DNS said otherwise), refused now.
    made = await subscribe(school, receiver.url.replace("127.0.0.1", host), ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())

    await make_sender(webhook_allow_private_networks=False).run_once()

    assert receiver.requests() == []
    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "pending" and "(loopback)" in str(message.last_error)


async def test_each_subscription_gets_only_the_events_it_asked_for(
    school: SchoolKit,
    other_school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
) -> None:
    consent = await subscribe(school, receiver.url + "/consent", ["consent_requested"])
    everything = await subscribe(
        school, receiver.url + "/all", ["consent_requested", "session_cancelled"]
    )
    paused = await subscribe(school, receiver.url + "/paused", ["session_cancelled"])
    await school.api.patch(f"{PATH}/{paused['id']}", json={"enabled": False}, headers=school.auth)
    await subscribe(other_school, receiver.url + "/other", ["session_cancelled"])

    await notify(accept, school, "consent_requested", consent_data())
    await notify(accept, school, "session_cancelled", consent_data())
    await notify(accept, school, "follow_up_due", consent_data(follow_up="short_term"))
    await make_sender().run_once()

    got = sorted((r.path, json.loads(r.body)["type"]) for r in receiver.requests())
    assert got == [
        ("/lingkar/hooks/all", "consent_requested"),
        ("/lingkar/hooks/all", "session_cancelled"),
        ("/lingkar/hooks/consent", "consent_requested"),
    ]
    assert consent["id"] != everything["id"]


async def test_a_test_event_reaches_the_receiver_signed(
    school: SchoolKit, receiver: Receiver, make_sender: Callable[..., WebhookSender]
) -> None:
    made = await subscribe(school, receiver.url, ["consent_requested"])
    queued = await school.post(f"{PATH}/{made['id']}/test", {}, expect=202)

    await make_sender().run_once()

    [request] = receiver.requests()
    event = verified(made["secret"], request)
    assert request.headers["webhook-id"] == queued["webhook_id"]
    assert event["type"] == "webhook.test"
    assert event["data"]["subscription_id"] == made["id"]


async def test_an_unsubscribed_endpoint_gets_nothing_more(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    deleted = await school.api.delete(f"{PATH}/{made['id']}", headers=school.auth)
    assert deleted.status_code == 204

    assert await make_sender().run_once() == 0
    assert receiver.requests() == []


async def test_a_called_off_notification_sends_no_webhook(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    notification_id = await notify(accept, school, "session_cancelled", consent_data())
    async with AsyncSession(apps["notifications"].state.engine) as db:
        notification = await db.get(Notification, uuid.UUID(notification_id))
        assert notification is not None
        notification.cancelled_at = utcnow()  # as calling off a scheduled notification does
        db.add(notification)
        await db.commit()

    await make_sender().run_once()

    assert receiver.requests() == []
    [message] = await messages_of(apps["notifications"], made["id"])
    assert message.status == "cancelled"


@pytest.mark.usefixtures("quiet_queue")  # its delivery loop runs too: only this test's mail
async def test_the_worker_process_loop_sends_webhooks_beside_the_deliveries(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_worker: Callable[..., Worker],
) -> None:
    made = await subscribe(school, receiver.url, ["session_cancelled"])
    await notify(accept, school, "session_cancelled", consent_data())
    worker = make_worker(webhook_allow_private_networks=True, worker_poll_seconds=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await eventually(lambda: _got(receiver))
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    [request] = receiver.requests()
    assert verified(made["secret"], request)["type"] == "session_cancelled"


async def _got(receiver: Receiver) -> bool:
    return bool(receiver.requests())
