"""What was sent about a session, every try of every delivery, dead letters sent again, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.deliveries.models import DeliveryAttempt
from services.notifications.notifications.models import Delivery, Notification
from services.notifications.worker import Worker
from shared.timeutil import utcnow
from tests.factories import SchoolKit, eventually, notifications_about
from tests.metrics import samples
from tests.notifications.support import (
    Accept,
    Inbox,
    SmtpServer,
    deliveries_of,
    notification_body,
    recipient,
)
from tests.notifications.test_inbox import guided_session, person

pytestmark = pytest.mark.usefixtures("quiet_queue")


class RefusingInbox(Inbox):
    """An SMTP handler that refuses the recipients in `refused` (by default as a mailbox that
    does not exist)."""

    def __init__(self, refused: set[str], answer: str = "550 5.1.1 mailbox unavailable") -> None:
        super().__init__()
        self.refused = refused
        self.answer = answer

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return self.answer
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def make_due(app: FastAPI, delivery_ids: list[uuid.UUID]) -> None:
    """Skip the backoff wait: the deliveries' next try is now."""
    async with AsyncSession(app.state.engine) as db:
        await db.exec(
            update(Delivery)
            .where(col(Delivery.id).in_(delivery_ids))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


async def session_deliveries(apps: dict[str, FastAPI], sid: str) -> list[Delivery]:
    sent = await notifications_about(apps["notifications"], sid)
    assert sent
    async with AsyncSession(apps["notifications"].state.engine) as db:
        rows = await db.exec(
            select(Delivery)
            .join(Notification, col(Notification.id) == col(Delivery.notification_id))
            .where(Notification.session_id == uuid.UUID(sid))
        )
        return list(rows.all())


async def sent_about(
    api: httpx.AsyncClient, sid: str, who: dict[str, str], expect: int = 200
) -> dict[str, Any]:
    answer = await api.get(f"/v1/sessions/{sid}/notifications", headers=who)
    assert answer.status_code == expect, answer.text
    return dict(answer.json())


async def test_a_sessions_notifications_show_each_try_with_masked_addresses_and_no_links(
    school: SchoolKit,
    other_school: SchoolKit,
    apps: dict[str, FastAPI],
    api: httpx.AsyncClient,
    smtp_down: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    counselor = await person(school, "counselor")
    students = [await person(school, birth_date="2000-01-01") for _ in range(2)]
    session = await guided_session(school, counselor, students)
    sid = session["id"]
    await school.post(f"/v1/sessions/{sid}/consent-requests", {})

    async def both_asked() -> Any:
        told = await notifications_about(apps["notifications"], sid)
        return told if len(told) == 2 else None

    await eventually(both_asked)
    worker = make_worker(smtp_down.port)

    assert await worker.run_once() == 2  # nobody listens yet: both tries fail
    await make_due(apps["notifications"], [d.id for d in await session_deliveries(apps, sid)])
    smtp_down.start()
    assert await worker.run_once() == 2
    assert len(smtp_down.messages) == 2

    page = await sent_about(api, sid, counselor.auth)
    assert [n["event"] for n in page["items"]] == ["consent_requested"] * 2  # one per student
    assert page["next_cursor"] is None
    by_person = {d["person_id"]: d for n in page["items"] for d in n["deliveries"]}
    for student in students:
        email = student.user["email"]
        delivery = by_person[student.user["id"]]
        assert delivery["channel"] == "email"
        assert delivery["address"] == f"{email[0]}***@{email.split('@')[1]}"
        assert (delivery["status"], delivery["attempts"]) == ("sent", 2)
        assert [a["outcome"] for a in delivery["history"]] == ["failed", "sent"]
        assert delivery["history"][0]["error"]  # why the first try failed, in words
    text = (await api.get(f"/v1/sessions/{sid}/notifications", headers=school.auth)).text
    assert all(s.user["email"] not in text for s in students)
    assert "/v1/consent/" not in text and "/j/" not in text and "/h/" not in text
    assert "://" not in text  # no link of any kind

    await sent_about(api, sid, students[0].auth, expect=403)
    await sent_about(api, sid, other_school.auth, expect=404)


async def test_a_sessions_notifications_come_page_by_page(
    school: SchoolKit, api: httpx.AsyncClient, accept: Accept
) -> None:
    counselor = await person(school, "counselor")
    session = await guided_session(
        school, counselor, [await person(school, birth_date="2000-01-01") for _ in range(2)]
    )
    sid = session["id"]
    for _ in range(3):
        body = notification_body([recipient()], school_id=str(school.school_id), session_id=sid)
        assert (await accept(body)).status_code == 202
    first = await api.get(f"/v1/sessions/{sid}/notifications?limit=2", headers=school.auth)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    second = await api.get(
        f"/v1/sessions/{sid}/notifications",
        params={"limit": 2, "cursor": cursor},
        headers=school.auth,
    )
    ids = [n["id"] for n in first.json()["items"] + second.json()["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert second.json()["next_cursor"] is None


async def test_a_dead_letter_is_listed_for_the_admin_and_delivered_after_a_retry(
    school: SchoolKit,
    other_school: SchoolKit,
    apps: dict[str, FastAPI],
    api: httpx.AsyncClient,
    accept: Accept,
    smtp_down: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    address = f"tidak-ada-{uuid.uuid4().hex[:6]}@siswa.example"
    refusing = RefusingInbox({address})
    smtp_down.inbox = refusing
    smtp_down.start()
    body = notification_body([recipient(email=address)], school_id=str(school.school_id))
    answer = await accept(body)
    [delivery] = await deliveries_of(apps["notifications"], answer.json()["id"])
    worker = make_worker(smtp_down.port)
    assert await worker.run_once() == 1

    dead = await school.get("/v1/school/notifications/dead")
    [letter] = [d for d in dead["items"] if d["id"] == str(delivery.id)]
    assert (letter["status"], letter["event"]) == ("dead", "meeting_provisioned_host")
    assert letter["last_error"] == "recipient refused"
    assert letter["address"] == "t***@siswa.example" and address not in str(dead)
    other = await other_school.get("/v1/school/notifications/dead")
    assert str(delivery.id) not in str(other)
    retry = f"/v1/school/notifications/deliveries/{delivery.id}/retry"
    await other_school.post(retry, {}, expect=404)
    counselor = await person(school, "counselor")
    refused = await api.post(retry, headers=counselor.auth)
    assert refused.status_code == 403, refused.text

    refusing.refused.clear()  # the school fixed the mailbox
    again = await school.post(retry, {}, expect=200)
    assert again["status"] == "pending"
    assert await worker.run_once() == 1

    [message] = smtp_down.messages
    assert message["To"].addresses[0].addr_spec == address
    dead = await school.get("/v1/school/notifications/dead")
    assert str(delivery.id) not in str(dead)
    conflict = await api.post(retry, headers=school.auth)
    assert conflict.status_code == 409, conflict.text
    assert "sent" in conflict.json()["detail"]
    history = await _history_of(apps, delivery.id)
    assert history == ["dead", "sent"]


async def test_a_recipient_refused_for_now_is_tried_again_not_given_up(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    accept: Accept,
    smtp_down: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    # Greylisting: a school's mail server turns a first-time sender away with a 4xx and takes
    # the same message a few minutes later.
    address = f"dewi-{uuid.uuid4().hex[:6]}@siswa.example"
    greylisting = RefusingInbox({address}, answer="450 4.7.1 greylisted, try again later")
    smtp_down.inbox = greylisting
    smtp_down.start()
    body = notification_body([recipient(email=address)], school_id=str(school.school_id))
    answer = await accept(body)
    worker = make_worker(smtp_down.port)
    assert await worker.run_once() == 1

    [delivery] = await deliveries_of(apps["notifications"], answer.json()["id"])
    assert delivery.status == "pending", delivery
    assert delivery.last_error == "recipient refused for now (450)"
    dead = await school.get("/v1/school/notifications/dead")
    assert str(delivery.id) not in str(dead)

    greylisting.refused.clear()  # the greylist's wait is over
    await make_due(apps["notifications"], [delivery.id])
    assert await worker.run_once() == 1
    [message] = smtp_down.messages
    assert message["To"].addresses[0].addr_spec == address
    assert await _history_of(apps, delivery.id) == ["failed", "sent"]


async def _history_of(apps: dict[str, FastAPI], delivery_id: uuid.UUID) -> list[str]:
    async with AsyncSession(apps["notifications"].state.engine) as db:
        rows = await db.exec(
            select(DeliveryAttempt.outcome)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(col(DeliveryAttempt.at))
        )
        return list(rows.all())


async def test_metrics_count_tries_by_channel_and_outcome_and_the_queue_depth(
    notifications: httpx.AsyncClient,
    accept: Accept,
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    sent = (("channel", "email"), ("outcome", "sent"))
    due = (("channel", "email"), ("state", "due"))
    before = (await notifications.get("/metrics")).text
    counted = samples(before, "lingkar_notification_deliveries_total").get(sent, 0)
    assert (await accept(notification_body())).status_code == 202

    waiting = samples(
        (await notifications.get("/metrics")).text, "lingkar_notification_queue_depth"
    )
    assert waiting[due] == samples(before, "lingkar_notification_queue_depth")[due] + 1
    assert await make_worker(smtp_server.port).run_once() == 1

    after = (await notifications.get("/metrics")).text
    assert samples(after, "lingkar_notification_deliveries_total")[sent] == counted + 1
    assert samples(after, "lingkar_notification_queue_depth")[due] == waiting[due] - 1
    assert "# TYPE lingkar_notification_deliveries_total counter" in after
