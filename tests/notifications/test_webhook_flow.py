"""The whole way: a counselor asks for consent in a real session, and the school's information
system gets a signed webhook saying so, without the consent link."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from services.notifications.webhooks.delivery import WebhookSender
from tests.factories import SchoolKit, eventually
from tests.notifications.webhook_support import Receiver

pytestmark = pytest.mark.usefixtures("quiet_webhooks", "private_networks_allowed")


async def test_a_consent_request_reaches_the_subscriber_signed_and_without_its_link(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    receiver: Receiver,
    make_sender: Callable[..., WebhookSender],
) -> None:
    made = await school.post(
        "/v1/school/webhooks",
        {"url": receiver.url, "events": ["consent_requested"], "description": "SIS"},
    )
    students = [
        await school.user("student", birth_date="2000-04-04", email=f"{name}@siswa.id")
        for name in ("rani", "budi")
    ]
    group = await school.group(members=0, member_ids=[s["id"] for s in students])
    session = await school.session(group)
    platform = await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    assert platform.status_code == 200, platform.text
    asked = await school.post(f"/v1/sessions/{session['id']}/consent-requests", {})
    links = {r["student_id"]: r["url"] for r in asked["requests"]}
    sender = make_sender()

    # The api's outbox carries the requests to the notifications service in the background.
    async def sent_both() -> bool:
        await sender.run_once()
        return len(receiver.requests()) >= 2

    await eventually(sent_both)

    events = [Webhook(made["secret"]).verify(r.body, r.headers) for r in receiver.requests()]
    assert {e["type"] for e in events} == {"consent_requested"}
    assert {e["data"]["session_id"] for e in events} == {session["id"]}
    assert {e["data"]["school_id"] for e in events} == {str(school.school_id)}
    assert sorted(e["data"]["student_id"] for e in events) == sorted(links)
    for event in events:
        assert event["data"]["recipient_ids"] == [event["data"]["student_id"]]
        assert event["data"]["signer"] == "student"
    text = " ".join(r.body.decode() for r in receiver.requests())
    for link in links.values():
        assert link not in text and link.rsplit("/", 1)[1] not in text
    assert "/v1/consent/" not in text and "@siswa.id" not in text
