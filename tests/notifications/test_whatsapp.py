"""WhatsApp against a fake Cloud API (respx) in its documented shapes, and its status webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.notifications.models import Delivery, Notification
from services.notifications.worker import Worker
from tests.notifications.support import (
    Accept,
    SmtpServer,
    accepted,
    deliveries_of,
    host_data,
    notification_body,
    recipient,
    reload,
    text_of,
)

pytestmark = pytest.mark.usefixtures("quiet_queue", "channels_configured")

GRAPH = "https://graph.test/v21.0"
NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "whatsapp-access-token-secret-123"
APP_SECRET = "whatsapp-app-secret-456"
VERIFY_TOKEN = "whatsapp-verify-token-789"
MESSAGES = f"{GRAPH}/{NUMBER_ID}/messages"
JOIN_URL = "https://meetings.sekolah.example/j/member-join-token-0123456789"


def sent(wamid: str, phone: str = "6281234567890") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": phone, "wa_id": phone}],
            "messages": [{"id": wamid}],
        },
    )


def error(status: int, code: int, message: str) -> httpx.Response:
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
    }
    return httpx.Response(status, json=body)


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def worker(make_worker: Callable[..., Worker], smtp_server: SmtpServer) -> Worker:
    return make_worker(
        smtp_server.port,
        whatsapp_api_url=GRAPH,
        whatsapp_phone_number_id=NUMBER_ID,
        whatsapp_access_token=ACCESS_TOKEN,
    )


@pytest.fixture
def webhook_secrets(apps: dict[str, FastAPI], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = apps["notifications"].state.settings
    monkeypatch.setattr(settings, "whatsapp_app_secret", SecretStr(APP_SECRET))
    monkeypatch.setattr(settings, "whatsapp_verify_token", SecretStr(VERIFY_TOKEN))


def student(**overrides: Any) -> dict[str, Any]:
    return recipient(**{"name": "Dewi", "phone": "+6281234567890", **overrides})


def member_link_body(person: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return notification_body(
        [person],
        event="meeting_provisioned_member",
        data=host_data(join_url=JOIN_URL, host_url=None, session_title="Karier"),
        **{"report_to": recipient(name="Bu Rina"), **overrides},
    )


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def status_call(wamid: str, status: str, **extra: Any) -> bytes:
    value = {"id": wamid, "status": status, "timestamp": "1764570000", "recipient_id": "62812"}
    value.update(extra)
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": NUMBER_ID},
                            "statuses": [value],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


async def set_template(
    notifications: httpx.AsyncClient, token: str, school_id: str, event: str, **body: Any
) -> httpx.Response:
    return await notifications.post(
        f"/internal/v1/schools/{school_id}/whatsapp-templates/{event}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def template_of(route: respx.Route) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(route.calls.last.request.content)
    return payload


async def test_a_school_s_own_template_is_sent_with_its_parameters_in_order_and_the_link_button(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
) -> None:
    route = graph.post(MESSAGES).mock(return_value=sent("wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABEYEjA"))
    body = member_link_body(student())
    saved = await set_template(
        notifications,
        service_token("notifications"),
        body["school_id"],
        "meeting_provisioned_member",
        name="undangan_sesi_bk",
        language="id",
        body_parameters=["when", "name", "title"],
        button_url_base="https://meetings.sekolah.example/j/",
    )
    assert saved.status_code == 200, saved.text
    [delivery] = await deliveries_of(apps["notifications"], await accepted(accept, body))
    assert delivery.channel == "whatsapp"

    assert await worker.run_once() == 1

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    payload = template_of(route)
    assert payload["messaging_product"] == "whatsapp"
    assert payload["to"] == "6281234567890"
    assert payload["type"] == "template"
    assert payload["template"]["name"] == "undangan_sesi_bk"
    assert payload["template"]["language"] == {"code": "id"}
    assert payload["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "1 Desember 2026, 08.00 WIB"},
                {"type": "text", "text": "Dewi"},
                {"type": "text", "text": "Karier"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "member-join-token-0123456789"}],
        },
    ]
    stored = await reload(apps["notifications"], delivery.id)
    assert stored.status == "sent"
    assert stored.provider_message_id == "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABEYEjA"


async def test_a_school_that_set_nothing_sends_lingkars_default_in_the_readers_language(
    accept: Accept, apps: dict[str, FastAPI], graph: respx.MockRouter, worker: Worker
) -> None:
    route = graph.post(MESSAGES).mock(return_value=sent("wamid.default"))
    await accepted(accept, member_link_body(student(locale="en", name="Dewi\nLine\ttwo")))

    assert await worker.run_once() == 1

    template = template_of(route)["template"]
    assert template["name"] == "lingkar_meeting_provisioned_member"
    assert template["language"] == {"code": "en"}
    body, button = template["components"]
    # New lines and tabs are refused by WhatsApp in a parameter: folded to spaces.
    assert [p["text"] for p in body["parameters"]] == [
        "Dewi Line two",
        "Karier",
        "1 December 2026, 08:00 WIB",
    ]
    assert button["parameters"] == [{"type": "text", "text": "j/member-join-token-0123456789"}]


async def test_another_school_s_template_is_not_used(
    accept: Accept,
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
    service_token: Callable[[str], str],
) -> None:
    route = graph.post(MESSAGES).mock(return_value=sent("wamid.other"))
    saved = await set_template(
        notifications,
        service_token("notifications"),
        str(uuid.uuid4()),
        "meeting_provisioned_member",
        name="sekolah_lain",
    )
    assert saved.status_code == 200, saved.text
    await accepted(accept, member_link_body(student()))

    assert await worker.run_once() == 1

    assert template_of(route)["template"]["name"] == "lingkar_meeting_provisioned_member"


async def test_a_template_with_an_unknown_value_is_refused_with_the_field_named(
    notifications: httpx.AsyncClient, service_token: Callable[[str], str]
) -> None:
    answer = await set_template(
        notifications,
        service_token("notifications"),
        str(uuid.uuid4()),
        "consent_requested",
        name="Bad Name",
        body_parameters=["name", "password"],
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"name", "body_parameters.1"}


@pytest.mark.parametrize(
    ("answer", "status", "pending"),
    [
        (error(400, 132001, "Template name does not exist in the translation"), "dead", False),
        (error(400, 131026, "Message undeliverable"), "unreachable", False),
        (error(429, 130429, "Rate limit hit"), "pending", True),
        (error(500, 131000, "Something went wrong"), "pending", True),
        (error(401, 190, "Error validating access token: Session has expired"), "pending", True),
    ],
    ids=["template-missing", "not-on-whatsapp", "rate-limited", "server-error", "token-expired"],
)
async def test_an_error_answer_retries_or_gives_up_to_email_as_its_code_says(
    answer: httpx.Response,
    status: str,
    pending: bool,
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    graph.post(MESSAGES).mock(return_value=answer)
    body = member_link_body(student(email="dewi@siswa.example"))
    notification_id = await accepted(accept, body)

    assert await worker.run_once() == 1
    by_channel = {d.channel: d for d in await deliveries_of(apps["notifications"], notification_id)}

    assert by_channel["whatsapp"].status == status
    assert str(json.loads(answer.content)["error"]["code"]) in (
        by_channel["whatsapp"].last_error or ""
    )
    if pending:
        assert set(by_channel) == {"whatsapp"}
        return
    assert by_channel["email"].status == "pending"  # the person's next channel
    assert await worker.run_once() >= 1
    assert "dewi@siswa.example" in [r for e in smtp_server.envelopes for r in e.rcpt_tos]
    to_counselor = [m for m in smtp_server.messages if body["report_to"]["email"] in m["To"]]
    assert len(to_counselor) == (1 if status == "unreachable" else 0)


async def sent_delivery(
    accept: Accept, app: FastAPI, graph: respx.MockRouter, worker: Worker, wamid: str
) -> Delivery:
    graph.post(MESSAGES).mock(return_value=sent(wamid))
    body = member_link_body(student(email="dewi@siswa.example"))
    [delivery] = await deliveries_of(app, await accepted(accept, body))
    assert await worker.run_once() == 1
    return await reload(app, delivery.id)


@pytest.mark.usefixtures("webhook_secrets")
async def test_the_webhook_set_up_echoes_the_challenge_for_our_verify_token_only(
    notifications: httpx.AsyncClient,
) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}

    good = await notifications.get(
        "/webhooks/whatsapp", params={**query, "hub.verify_token": VERIFY_TOKEN}
    )
    bad = await notifications.get(
        "/webhooks/whatsapp", params={**query, "hub.verify_token": "guessed"}
    )

    assert (good.status_code, good.text) == (200, "1158201444")
    assert bad.status_code == 403
    assert bad.headers["content-type"] == "application/problem+json"


@pytest.mark.usefixtures("webhook_secrets")
async def test_a_badly_signed_status_is_refused_and_changes_nothing(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
) -> None:
    app = apps["notifications"]
    delivery = await sent_delivery(accept, app, graph, worker, "wamid.bad-signature")
    body = status_call("wamid.bad-signature", "read")

    forged = await notifications.post(
        "/webhooks/whatsapp", content=body, headers=signed(body, "not-the-app-secret")
    )
    unsigned = await notifications.post("/webhooks/whatsapp", content=body)

    assert forged.status_code == 401 and unsigned.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    stored = await reload(app, delivery.id)
    assert (stored.provider_status, stored.read_at) == (None, None)


@pytest.mark.usefixtures("webhook_secrets")
async def test_statuses_are_recorded_once_each_and_a_late_one_changes_nothing(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
) -> None:
    app = apps["notifications"]
    delivery = await sent_delivery(accept, app, graph, worker, "wamid.progress")

    async def post(status: str) -> dict[str, Any]:
        body = status_call("wamid.progress", status)
        answer = await notifications.post("/webhooks/whatsapp", content=body, headers=signed(body))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    assert await post("delivered") == {"recorded": 1, "duplicates": 0, "ignored": 0}
    assert await post("delivered") == {"recorded": 0, "duplicates": 1, "ignored": 0}
    assert await post("read") == {"recorded": 1, "duplicates": 0, "ignored": 0}
    assert await post("delivered") == {"recorded": 0, "duplicates": 1, "ignored": 0}

    stored = await reload(app, delivery.id)
    assert (stored.status, stored.provider_status) == ("sent", "read")
    assert stored.delivered_at is not None and stored.read_at is not None


@pytest.mark.usefixtures("webhook_secrets")
async def test_a_failed_status_falls_back_to_email_once_however_often_it_comes(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
    smtp_server: SmtpServer,
) -> None:
    app = apps["notifications"]
    delivery = await sent_delivery(accept, app, graph, worker, "wamid.outside-window")
    errors = [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement"}]
    body = status_call("wamid.outside-window", "failed", errors=errors)

    for _ in range(2):  # at least once: the same status may come twice
        answer = await notifications.post("/webhooks/whatsapp", content=body, headers=signed(body))
        assert answer.status_code == 200, answer.text
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    by_channel = {d.channel: d for d in await deliveries_of(app, delivery.notification_id)}
    assert set(by_channel) == {"whatsapp", "email"}
    assert by_channel["whatsapp"].status == "failed"
    assert "131047" in (by_channel["whatsapp"].last_error or "")
    assert by_channel["email"].status == "sent"
    [message] = smtp_server.messages
    assert "dewi@siswa.example" in message["To"] and JOIN_URL in text_of(message)


@pytest.mark.usefixtures("webhook_secrets")
async def test_a_status_for_a_message_lingkar_did_not_send_is_ignored(
    notifications: httpx.AsyncClient,
) -> None:
    body = status_call("wamid.someone-elses", "delivered")

    answer = await notifications.post("/webhooks/whatsapp", content=body, headers=signed(body))

    assert answer.status_code == 200
    assert answer.json() == {"recorded": 0, "duplicates": 0, "ignored": 1}


async def report_channels(app: FastAPI, person_id: str) -> list[str]:
    """The channels of the counselor's "cannot be reached" report about this person, in order."""
    async with AsyncSession(app.state.engine) as db:
        [report] = (
            await db.exec(
                select(Notification).where(
                    Notification.event == "contact_unreachable",
                    col(Notification.idempotency_key).startswith(
                        f"contact-unreachable:{person_id}:"
                    ),
                )
            )
        ).all()
        rows = await db.exec(
            select(Delivery)
            .where(Delivery.notification_id == report.id)
            .order_by(col(Delivery.created_at))
        )
        [delivery] = rows.all()  # the first channel; the rest are its fallbacks
    return [delivery.channel, *(channel for channel, _ in delivery.fallbacks)]


def undeliverable_member() -> dict[str, Any]:
    """A member whose number is new to the service (an unreachable number is reported once)."""
    return student(phone=f"+62813{uuid.uuid4().int % 10**8:08d}", email="dewi@siswa.example")


COUNSELOR_ON_TELEGRAM = {"telegram_chat_id": "551234", "channels": ["telegram", "email"]}


async def test_the_counselor_is_told_by_a_channel_this_deployment_has_when_the_worker_gives_up(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
) -> None:
    """The worker here has WhatsApp and no Telegram bot: the counselor, who asked for Telegram
    first, is told by email first; Telegram is left last, where its failure names what's missing."""
    graph.post(MESSAGES).mock(return_value=error(400, 131026, "Message undeliverable"))
    person = undeliverable_member()
    body = member_link_body(person, report_to=recipient(name="Bu Rina", **COUNSELOR_ON_TELEGRAM))
    await accepted(accept, body)

    assert await worker.run_once() == 1

    assert await report_channels(apps["notifications"], person["person_id"]) == [
        "email",
        "telegram",
    ]


@pytest.mark.usefixtures("webhook_secrets")
async def test_the_counselor_is_told_by_a_channel_this_deployment_has_when_a_status_says_failed(
    accept: Accept,
    apps: dict[str, FastAPI],
    graph: respx.MockRouter,
    worker: Worker,
    notifications: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = apps["notifications"]
    monkeypatch.setattr(app.state.settings, "telegram_bot_token", None)  # WhatsApp only here
    graph.post(MESSAGES).mock(return_value=sent("wamid.undeliverable"))
    person = undeliverable_member()
    body = member_link_body(person, report_to=recipient(name="Bu Rina", **COUNSELOR_ON_TELEGRAM))
    await accepted(accept, body)
    assert await worker.run_once() == 1
    errors = [{"code": 131026, "title": "Message undeliverable", "message": "Undeliverable"}]
    status = status_call("wamid.undeliverable", "failed", errors=errors)

    answer = await notifications.post("/webhooks/whatsapp", content=status, headers=signed(status))

    assert answer.status_code == 200, answer.text
    assert await report_channels(app, person["person_id"]) == ["email", "telegram"]


async def test_two_first_saves_of_a_template_at_once_both_succeed_and_keep_one_row(
    notifications: httpx.AsyncClient, service_token: Callable[[str], str]
) -> None:
    """Both used to insert, and the second failed on the unique key with a 500."""
    school_id, token = str(uuid.uuid4()), service_token("notifications")
    names = [f"undangan_{i}" for i in range(4)]

    saved = await asyncio.gather(
        *(set_template(notifications, token, school_id, "consent_requested", name=n) for n in names)
    )

    assert [s.status_code for s in saved] == [200] * 4, [s.text for s in saved]
    listed = await notifications.get(
        f"/internal/v1/schools/{school_id}/whatsapp-templates",
        headers={"Authorization": f"Bearer {token}"},
    )
    [ours] = [t for t in listed.json() if t["event"] == "consent_requested"]
    assert ours["name"] in names  # one row: the last save to commit
