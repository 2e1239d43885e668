"""Webhooks reach a real receiver on loopback, signed so that `standardwebhooks` verifies them,
and are retried, held back or given up as the receiver answers."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from services.notifications.notifications.models import Notification
from services.notifications.webhooks import delivery, payloads
from services.notifications.webhooks.delivery import WebhookSender
from services.notifications.webhooks.models import WebhookMessage
from services.notifications.worker import Worker
from shared.timeutil import as_utc, utcnow
from tests.factories import SchoolKit, eventually
from tests.metrics import samples
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


def verified(secret: str, request: Received) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


@dataclass
class Hooks:
    """A school subscribing the loopback receiver, the notifications it is sent, the sender."""

    school: SchoolKit
    accept: Accept
    receiver: Receiver
    sender: Callable[..., WebhookSender]
    app: FastAPI

    async def subscribe(self, events: list[str], path: str = "") -> dict[str, Any]:
        body = {"url": self.receiver.url + path, "events": events}
        return dict(await self.school.post(PATH, body))

    async def notify(self, event: str = "session_cancelled", **data: Any) -> str:
        body = notification_body(
            school_id=str(self.school.school_id), event=event, data=consent_data(**data)
        )
        answer = await self.accept(body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    async def cancellation(self, *answers: Answer) -> dict[str, Any]:
        """A subscription to cancellations, one on its way, and how the receiver will answer."""
        made = await self.subscribe(["session_cancelled"])
        self.receiver.answer(*answers)
        await self.notify()
        return made

    async def message(self, made: dict[str, Any]) -> WebhookMessage:
        [message] = await messages_of(self.app, made["id"])
        return message


@pytest.fixture
def hooks(
    school: SchoolKit,
    accept: Accept,
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
    apps: dict[str, FastAPI],
) -> Hooks:
    return Hooks(school, accept, receiver, make_sender, apps["notifications"])


async def test_a_notification_becomes_a_signed_event_without_links_or_addresses(
    hooks: Hooks,
) -> None:
    made = await hooks.subscribe(["consent_requested"])
    guardian = recipient(email="ibu.dewi@example.id", phone="+6281234567890")
    data = consent_data()
    body = notification_body(
        [guardian], school_id=str(hooks.school.school_id), event="consent_requested", data=data
    )
    accepted = (await hooks.accept(body)).json()

    assert await hooks.sender().run_once() == 1

    [request] = hooks.receiver.requests()
    event = verified(made["secret"], request)
    assert request.path == "/lingkar/hooks"
    assert request.headers["webhook-id"].startswith("msg_")
    assert event["type"] == "consent_requested"
    assert event["data"] == {
        "notification_id": accepted["id"],
        "school_id": str(hooks.school.school_id),
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


async def test_a_signature_by_another_secret_does_not_verify(hooks: Hooks) -> None:
    await hooks.cancellation()
    await hooks.sender().run_once()
    [request] = hooks.receiver.requests()
    with pytest.raises(WebhookVerificationError):
        verified("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", request)


async def test_during_a_rotation_both_secrets_verify_and_after_the_grace_only_the_new(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await hooks.subscribe(["session_cancelled"])
    rotate = f"{PATH}/{made['id']}/rotate-secret"
    rotated = await hooks.school.post(rotate, {}, expect=200)
    await hooks.notify(reason="Ujian susulan")
    await hooks.sender().run_once()

    # A grace that is already over: the next message is signed with the new secret alone.
    monkeypatch.setattr(hooks.app.state.settings, "webhook_rotation_grace_seconds", 0.0)
    again = await hooks.school.post(rotate, {}, expect=200)
    await hooks.notify(reason="Libur")
    await hooks.sender().run_once()

    during, after = hooks.receiver.requests()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(made["secret"], during) == verified(rotated["secret"], during)
    assert verified(again["secret"], after)["data"]["reason"] == "Libur"
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        verified(rotated["secret"], after)


async def test_a_failed_send_is_retried_with_the_same_webhook_id_until_it_is_taken(
    hooks: Hooks, clock: Clock
) -> None:
    made = await hooks.cancellation(Answer(500))
    sender = hooks.sender()

    await sender.run_once()
    message = await hooks.message(made)
    assert (message.status, message.attempts, message.last_status) == ("pending", 1, 500)
    assert await sender.run_once() == 0  # not due again before its wait
    clock.jump_to(as_utc(message.next_attempt_at))
    assert await sender.run_once() == 1

    first, second = hooks.receiver.requests()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert verified(made["secret"], second)["type"] == "session_cancelled"
    message = await hooks.message(made)
    assert (message.status, message.attempts, message.last_status) == ("sent", 2, 200)


async def test_a_429_with_retry_after_is_not_sent_again_before_that_time(
    hooks: Hooks, clock: Clock
) -> None:
    made = await hooks.cancellation(Answer(429, {"Retry-After": "120"}))
    sender = hooks.sender()

    started = clock()
    await sender.run_once()
    message = await hooks.message(made)
    assert as_utc(message.next_attempt_at) - started >= timedelta(seconds=120)
    clock.advance(seconds=100)  # past the schedule's 5 s, short of what the receiver asked
    assert await sender.run_once() == 0
    clock.advance(seconds=21)
    assert await sender.run_once() == 1
    assert len(hooks.receiver.requests()) == 2
    assert (await hooks.message(made)).status == "sent"


async def test_a_410_disables_the_subscription_and_says_so(hooks: Hooks) -> None:
    made = await hooks.cancellation(Answer(410))

    await hooks.sender().run_once()

    shown = await hooks.school.get(f"{PATH}/{made['id']}")
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert (await hooks.message(made)).status == "dead"
    await hooks.notify()
    assert len(await messages_of(hooks.app, made["id"])) == 1  # no new event
    resumed = await hooks.school.api.patch(
        f"{PATH}/{made['id']}", json={"enabled": True}, headers=hooks.school.auth
    )
    assert resumed.json()["enabled"] is True and resumed.json()["disabled_reason"] is None


async def test_a_receiver_that_keeps_failing_is_tried_for_about_three_days_then_given_up(
    hooks: Hooks, clock: Clock
) -> None:
    # A 4xx other than 410: the receiver may yet fix its end, so it is retried too.
    made = await hooks.cancellation(*[Answer(404)] * 20)
    sender = hooks.sender()

    waits = []
    for _ in range(delivery.MAX_ATTEMPTS):
        before = clock()
        assert await sender.run_once() == 1
        message = await hooks.message(made)
        if message.status != "pending":
            break
        waits.append(as_utc(message.next_attempt_at) - before)
        clock.jump_to(as_utc(message.next_attempt_at))

    assert message.status == "dead" and message.last_status == 404
    assert len(hooks.receiver.requests()) == delivery.MAX_ATTEMPTS == len(waits) + 1
    planned = [5, 300, 1800, 7200, 18000, *[36000] * 6]
    for wait, seconds in zip(waits, planned, strict=True):
        assert seconds * 0.79 <= wait.total_seconds() <= seconds * 1.21
    assert timedelta(days=2.3) < sum(waits, timedelta()) < timedelta(days=3.4)
    assert await sender.run_once() == 0


async def test_jitter_spreads_the_retries_of_many_messages() -> None:
    delays = [delivery.retry_delay(3) for _ in range(50)]
    waits = {d.total_seconds() for d in delays if d is not None}
    assert len(waits) > 40 and min(waits) >= 1800 * 0.8 and max(waits) <= 1800 * 1.2
    assert delivery.retry_delay(delivery.MAX_ATTEMPTS) is None


async def test_a_slow_receiver_times_out_and_is_retried(hooks: Hooks) -> None:
    made = await hooks.cancellation(Answer(200, delay=1.0))

    await hooks.sender(webhook_timeout_seconds=0.2).run_once()

    message = await hooks.message(made)
    assert message.status == "pending" and message.attempts == 1
    assert message.last_error == "no answer within 0.2 s"


async def test_a_redirect_is_not_followed(hooks: Hooks) -> None:
    made = await hooks.cancellation(
        Answer(307, {"Location": "http://169.254.169.254/latest/meta-data/"})
    )

    await hooks.sender().run_once()

    assert len(hooks.receiver.requests()) == 1
    message = await hooks.message(made)
    assert message.status == "pending" and "redirect, not followed" in str(message.last_error)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_destination_is_refused_at_send_time_too(hooks: Hooks, host: str) -> None:
    # Subscribed while the operator allowed it (or while DNS said otherwise), refused now.
    made = await hooks.school.post(
        PATH,
        {"url": hooks.receiver.url.replace("127.0.0.1", host), "events": ["session_cancelled"]},
    )
    await hooks.notify()

    await hooks.sender(webhook_allow_private_networks=False).run_once()

    assert hooks.receiver.requests() == []
    message = await hooks.message(made)
    assert message.status == "pending" and "(loopback)" in str(message.last_error)


async def test_each_subscription_gets_only_the_events_it_asked_for(
    hooks: Hooks, other_school: SchoolKit
) -> None:
    await hooks.subscribe(["consent_requested"], "/consent")
    await hooks.subscribe(["consent_requested", "session_cancelled"], "/all")
    paused = await hooks.subscribe(["session_cancelled"], "/paused")
    await hooks.school.api.patch(
        f"{PATH}/{paused['id']}", json={"enabled": False}, headers=hooks.school.auth
    )
    theirs = {"url": hooks.receiver.url + "/other", "events": ["session_cancelled"]}
    await other_school.post(PATH, theirs)

    await hooks.notify("consent_requested")
    await hooks.notify("session_cancelled")
    await hooks.notify("follow_up_due", follow_up="short_term")
    await hooks.sender().run_once()

    got = sorted((r.path, json.loads(r.body)["type"]) for r in hooks.receiver.requests())
    assert got == [
        ("/lingkar/hooks/all", "consent_requested"),
        ("/lingkar/hooks/all", "session_cancelled"),
        ("/lingkar/hooks/consent", "consent_requested"),
    ]


async def test_a_test_event_reaches_the_receiver_signed(hooks: Hooks) -> None:
    made = await hooks.subscribe(["consent_requested"])
    queued = await hooks.school.post(f"{PATH}/{made['id']}/test", {}, expect=202)

    await hooks.sender().run_once()

    [request] = hooks.receiver.requests()
    event = verified(made["secret"], request)
    assert request.headers["webhook-id"] == queued["webhook_id"]
    assert event["type"] == "webhook.test"
    assert event["data"]["subscription_id"] == made["id"]


async def test_an_unsubscribed_endpoint_gets_nothing_more(hooks: Hooks) -> None:
    made = await hooks.cancellation()
    deleted = await hooks.school.api.delete(f"{PATH}/{made['id']}", headers=hooks.school.auth)
    assert deleted.status_code == 204

    assert await hooks.sender().run_once() == 0
    assert hooks.receiver.requests() == []


async def test_a_called_off_notification_sends_no_webhook(hooks: Hooks) -> None:
    made = await hooks.subscribe(["session_cancelled"])
    notification_id = await hooks.notify()
    async with AsyncSession(hooks.app.state.engine) as db:
        notification = await db.get(Notification, uuid.UUID(notification_id))
        assert notification is not None
        notification.cancelled_at = utcnow()  # as calling off a scheduled notification does
        db.add(notification)
        await db.commit()

    await hooks.sender().run_once()

    assert hooks.receiver.requests() == []
    assert (await hooks.message(made)).status == "cancelled"


@pytest.mark.usefixtures("quiet_queue")  # its delivery loop runs too: only this test's mail
async def test_the_worker_process_loop_sends_webhooks_beside_the_deliveries(
    hooks: Hooks, make_worker: Callable[..., Worker]
) -> None:
    made = await hooks.cancellation()
    worker = make_worker(webhook_allow_private_networks=True, worker_poll_seconds=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await eventually(lambda: _got(hooks.receiver))
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    [request] = hooks.receiver.requests()
    assert verified(made["secret"], request)["type"] == "session_cancelled"


async def _got(receiver: Receiver) -> bool:
    return bool(receiver.requests())


async def test_the_send_goes_to_the_address_it_checked_not_to_a_later_answer(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The school's name server answers twice (subscribing, then the send's check) and would
    # then point the name elsewhere: the request must go where the check looked.
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    answers = [("127.0.0.1", 0)] * 2

    async def name_server(host: Any, port: Any, **kw: Any) -> Any:
        if host != "hooks.sekolah.example":
            return await real(host, port, **kw)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "rebound elsewhere")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", answers.pop(0))]

    monkeypatch.setattr(loop, "getaddrinfo", name_server)
    url = hooks.receiver.url.replace("127.0.0.1", "hooks.sekolah.example")
    made = await hooks.school.post(PATH, {"url": url, "events": ["session_cancelled"]})
    await hooks.notify()

    await hooks.sender().run_once()

    [request] = hooks.receiver.requests()
    port = url.split(":")[2].split("/")[0]
    assert request.headers["host"] == f"hooks.sekolah.example:{port}"
    assert verified(made["secret"], request)["type"] == "session_cancelled"
    assert answers == []


async def test_two_hosts_behind_one_address_never_share_a_connection(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two schools' receivers on one shared host: the send connects to the address, so without
    # care the second request would ride the first's connection (in TLS: its name, its
    # certificate). Each host gets its own; one host's messages share theirs.
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    shared = {"a.sekolah.example", "b.sekolah.example"}

    async def name_server(host: Any, port: Any, **kw: Any) -> Any:
        if host not in shared:
            return await real(host, port, **kw)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

    monkeypatch.setattr(loop, "getaddrinfo", name_server)
    for host in sorted(shared):
        url = hooks.receiver.url.replace("127.0.0.1", host)
        await hooks.school.post(PATH, {"url": url, "events": ["session_cancelled"]})
    await hooks.notify()
    await hooks.notify()

    await hooks.sender().run_once()

    received = hooks.receiver.requests()
    assert len(received) == 4
    ports = {
        host: {r.client_port for r in received if r.headers["host"].startswith(host)}
        for host in shared
    }
    assert all(len(used) == 1 for used in ports.values()), ports  # kept open per host
    assert ports["a.sekolah.example"].isdisjoint(ports["b.sekolah.example"]), ports


async def test_a_scheduled_notification_is_told_of_when_it_is_due(
    hooks: Hooks, clock: Clock
) -> None:
    made = await hooks.subscribe(["follow_up_due"])
    due = (utcnow() + timedelta(days=7)).replace(microsecond=0)
    body = notification_body(
        school_id=str(hooks.school.school_id),
        event="follow_up_due",
        data=consent_data(follow_up="short_term"),
        deliver_after=due.isoformat(),
    )
    assert (await hooks.accept(body)).status_code == 202
    sender = hooks.sender()

    assert await sender.run_once() == 0
    clock.jump_to(due)
    assert await sender.run_once() == 1

    [request] = hooks.receiver.requests()
    event = json.loads(request.body)
    assert event["type"] == "follow_up_due" and event["data"]["follow_up"] == "short_term"
    assert event["timestamp"] == due.isoformat().replace("+00:00", "Z")
    assert (await hooks.message(made)).status == "sent"


def test_a_reminder_tells_integrators_which_one_and_never_the_link() -> None:
    reminder = Notification(
        school_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        idempotency_key="reminder-key-1",
        event="session_reminder",
        data={
            "session_title": "Memilih jurusan",
            "scheduled_start": "2026-12-03T01:00:00+00:00",
            "reminder": "15m",
            "join_url": "https://lingkar.example/j/secret-token",
            "schedule_sequence": 2,
        },
        created_at=utcnow(),
    )

    payload = payloads.for_notification(reminder, [uuid.uuid4()])

    assert payload["type"] == "session_reminder"
    assert payload["data"]["reminder"] == "15m"
    assert "secret-token" not in json.dumps(payload)


async def dead_webhooks(notifications: httpx.AsyncClient) -> float:
    text = (await notifications.get("/metrics")).text
    return samples(text, "lingkar_webhook_messages")[(("state", "dead"),)]


async def test_the_admin_sees_each_message_s_tries_and_sends_a_dead_one_again(
    hooks: Hooks, clock: Clock, other_school: SchoolKit, notifications: httpx.AsyncClient
) -> None:
    dead_before = await dead_webhooks(notifications)
    made = await hooks.cancellation(*[Answer(503)] * delivery.MAX_ATTEMPTS)
    listing = f"{PATH}/{made['id']}/messages"
    sender = hooks.sender()
    assert await sender.run_once() == 1

    [first] = (await hooks.school.get(listing))["items"]
    assert (first["status"], first["attempts"], first["last_status"]) == ("pending", 1, 503)
    assert first["last_error"] == "answered 503" and first["sent_at"] is None
    assert first["next_attempt_at"] > first["created_at"]
    webhook_id = first["webhook_id"]
    assert webhook_id == hooks.receiver.requests()[0].headers["webhook-id"]
    for _ in range(delivery.MAX_ATTEMPTS):
        message = await hooks.message(made)
        if message.status != "pending":
            break
        clock.jump_to(as_utc(message.next_attempt_at))
        await sender.run_once()
    [dead] = (await hooks.school.get(listing, params={"status": "dead"}))["items"]
    assert (dead["webhook_id"], dead["attempts"], dead["next_attempt_at"]) == (
        webhook_id,
        delivery.MAX_ATTEMPTS,
        None,
    )
    assert (await hooks.school.get(listing, params={"status": "sent"}))["items"] == []
    assert await dead_webhooks(notifications) == dead_before + 1  # the operator sees it too
    retry = f"{listing}/{webhook_id}/retry"
    await other_school.post(retry, {}, expect=404)  # another school's subscription: not found
    await hooks.school.post(f"{listing}/msg_{uuid.uuid4().hex}/retry", {}, expect=404)
    await hooks.school.post(f"{listing}/not-a-webhook-id/retry", {}, expect=404)

    again = await hooks.school.post(retry, {}, expect=200)
    assert (again["status"], again["attempts"]) == ("pending", 0)
    assert await dead_webhooks(notifications) == dead_before
    assert await sender.run_once() == 1  # the receiver's script has run out: it answers 200

    last = hooks.receiver.requests()[-1]
    assert last.headers["webhook-id"] == webhook_id  # the receiver can still drop a repeat
    [sent] = (await hooks.school.get(listing))["items"]
    assert (sent["status"], sent["last_status"], sent["last_error"]) == ("sent", 200, None)
    assert sent["sent_at"] is not None
    conflict = await hooks.school.api.post(retry, headers=hooks.school.auth)
    assert conflict.status_code == 409, conflict.text
    assert "sent" in conflict.json()["detail"]


async def test_messages_are_listed_newest_first_a_page_at_a_time(hooks: Hooks) -> None:
    made = await hooks.subscribe(["session_cancelled"])
    tests = [
        (await hooks.school.post(f"{PATH}/{made['id']}/test", {}, expect=202))["webhook_id"]
        for _ in range(3)
    ]
    listing = f"{PATH}/{made['id']}/messages"

    page = await hooks.school.get(listing, params={"limit": 2})
    rest = await hooks.school.get(listing, params={"limit": 2, "cursor": page["next_cursor"]})

    seen = [m["webhook_id"] for m in page["items"] + rest["items"]]
    assert seen == tests[::-1] and rest["next_cursor"] is None
    assert {m["event"] for m in page["items"]} == {"webhook.test"}
    bad = await hooks.school.api.get(listing, params={"status": "lost"}, headers=hooks.school.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
