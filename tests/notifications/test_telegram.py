"""Telegram against a fake Bot API (respx) answering in its documented shapes, errors included."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from services.notifications.channels.telegram import MAX_TEXT, message_text, utf16_length
from services.notifications.notifications.templates import Rendered
from services.notifications.worker import Worker
from shared.timeutil import as_utc, utcnow
from tests.notifications.support import (
    Accept,
    SmtpServer,
    accepted,
    deliveries_of,
    host_data,
    make_due,
    notification_body,
    recipient,
    reload,
    text_of,
)

pytestmark = pytest.mark.usefixtures("quiet_queue", "channels_configured")

TELEGRAM = "https://telegram.test"
BOT_TOKEN = "7412589630:AAtelegram-bot-token-secret-XYZ"
SEND = f"{TELEGRAM}/bot{BOT_TOKEN}/sendMessage"
JOIN_URL = "https://meetings.sekolah.example/j/member-join-token-0123456789"
OK = {"ok": True, "result": {"message_id": 17, "chat": {"id": 5550001}, "text": "..."}}
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}


def refusal(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


@pytest.fixture
def telegram() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def worker(make_worker: Callable[..., Worker], smtp_server: SmtpServer) -> Worker:
    return make_worker(smtp_server.port, telegram_api_url=TELEGRAM, telegram_bot_token=BOT_TOKEN)


def member(**overrides: Any) -> dict[str, Any]:
    return recipient(**{"name": "Dewi", "telegram_chat_id": "5550001", **overrides})


def member_link_body(person: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    counselor = recipient(name="Bu Rina")
    return notification_body(
        [person],
        event="meeting_provisioned_member",
        data=host_data(join_url=JOIN_URL, host_url=None),
        report_to=counselor,
        **overrides,
    )


async def test_a_link_goes_to_the_chat_as_escaped_html_with_the_link_on_a_button(
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    route = telegram.post(SEND).respond(200, json=OK)
    person = member(name="Dewi <b>&</b>")
    body = member_link_body(person)
    body["data"]["session_title"] = 'Stres <script>alert("x")</script> & ujian'
    notification_id = await accepted(accept, body)

    assert await worker.run_once() == 1

    sent = route.calls.last.request
    payload = json.loads(sent.content)
    assert payload["chat_id"] == "5550001"
    assert payload["parse_mode"] == "HTML"
    assert payload["link_preview_options"] == {"is_disabled": True}
    assert payload["reply_markup"] == {
        "inline_keyboard": [[{"text": "Gabung ke sesi", "url": JOIN_URL}]]
    }
    text = payload["text"]
    assert text.startswith("<b>")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "&amp; ujian" in text
    assert "Dewi &lt;b&gt;&amp;&lt;/b&gt;" in text
    # Only the subject's own bold remains as markup.
    assert re.findall(r"<[^>]+>", text) == ["<b>", "</b>"]
    [delivery] = await deliveries_of(apps["notifications"], notification_id)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("telegram", "sent", 1)
    assert smtp_server.envelopes == []  # the first channel reached them: no email as well


def test_a_long_text_is_cut_within_telegrams_limit_without_breaking_an_escape() -> None:
    body = "Halo & selamat 🎓 " * 400  # about 7000 units, with escapes and emoji
    text = message_text(Rendered(subject="Judul <x>", text=body, html=""))

    visible = html.unescape(re.sub(r"</?b>", "", text))
    assert utf16_length(visible) <= MAX_TEXT
    assert visible.endswith("…")
    assert not re.search(r"&[a-z#0-9]*…$", text)  # no entity cut in half
    assert visible.startswith("Judul <x>\n\nHalo & selamat")


async def test_a_429_waits_the_retry_after_telegram_names_then_sends(
    accept: Accept, apps: dict[str, FastAPI], telegram: respx.MockRouter, worker: Worker
) -> None:
    app = apps["notifications"]
    route = telegram.post(SEND)
    route.side_effect = [
        refusal(429, "Too Many Requests: retry after 120", retry_after=120),
        httpx.Response(200, json=OK),
    ]
    [delivery] = await deliveries_of(app, await accepted(accept, member_link_body(member())))

    assert await worker.run_once() == 1

    waiting = await reload(app, delivery.id)
    assert waiting.status == "pending"
    assert as_utc(waiting.next_attempt_at) >= utcnow() + timedelta(seconds=110)
    assert "429" in (waiting.last_error or "")
    assert await worker.run_once() == 0  # not before Telegram's time
    assert route.call_count == 1

    await make_due(app, delivery.id)
    assert await worker.run_once() == 1
    assert (await reload(app, delivery.id)).status == "sent"
    assert route.call_count == 2


async def test_a_blocked_bot_marks_the_contact_unreachable_falls_back_to_email_and_tells_the_counselor_once(  # noqa: E501
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    app = apps["notifications"]
    route = telegram.post(SEND).respond(403, json=BLOCKED)
    person = member(email="dewi@siswa.example")
    first = member_link_body(person)
    counselor_email = first["report_to"]["email"]
    notification_id = await accepted(accept, first)

    assert await worker.run_once() == 1  # Telegram says blocked
    assert await worker.run_once() == 2  # the email to Dewi, the report to her counselor

    by_channel = {d.channel: d for d in await deliveries_of(app, notification_id)}
    assert by_channel["telegram"].status == "unreachable"
    assert "blocked" in (by_channel["telegram"].last_error or "")
    assert by_channel["email"].status == "sent"
    to_dewi = [m for m in smtp_server.messages if "dewi@siswa.example" in m["To"]]
    assert len(to_dewi) == 1 and JOIN_URL in text_of(to_dewi[0])
    [report] = [m for m in smtp_server.messages if counselor_email in m["To"]]
    assert report["Subject"] == "Tidak bisa dihubungi: Dewi"
    assert "lewat Telegram" in text_of(report) and "lewat email" in text_of(report)

    # The next message for Dewi goes straight to email; Telegram is not asked, nor the
    # counselor told again.
    again = member_link_body(person)
    again["report_to"] = first["report_to"]
    [next_delivery] = await deliveries_of(app, await accepted(accept, again))
    assert next_delivery.channel == "email"
    assert await worker.run_once() == 1
    assert route.call_count == 1
    assert len([m for m in smtp_server.messages if counselor_email in m["To"]]) == 1
    assert len([m for m in smtp_server.messages if "dewi@siswa.example" in m["To"]]) == 2


async def test_a_bad_request_is_not_retried_and_the_email_goes_instead_without_a_report(
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    telegram.post(SEND).mock(return_value=refusal(400, "Bad Request: chat not found"))
    body = member_link_body(member(email="dewi@siswa.example"))
    notification_id = await accepted(accept, body)

    assert await worker.run_once() == 1
    assert await worker.run_once() == 1

    by_channel = {d.channel: d for d in await deliveries_of(apps["notifications"], notification_id)}
    assert by_channel["telegram"].status == "dead"
    assert by_channel["telegram"].attempts == 1
    assert by_channel["email"].status == "sent"
    assert len(smtp_server.envelopes) == 1
    assert smtp_server.envelopes[0].rcpt_tos == ["dewi@siswa.example"]


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502, text="Bad Gateway"), httpx.ReadTimeout("timed out")],
    ids=["5xx", "time-out"],
)
async def test_a_5xx_or_a_time_out_is_retried_and_then_sent_once(
    failure: Any,
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    app = apps["notifications"]
    route = telegram.post(SEND)
    route.side_effect = [failure, httpx.Response(200, json=OK)]
    [delivery] = await deliveries_of(app, await accepted(accept, member_link_body(member())))

    assert await worker.run_once() == 1
    failed = await reload(app, delivery.id)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert as_utc(failed.next_attempt_at) > utcnow()

    await make_due(app, delivery.id)
    assert await worker.run_once() == 1
    sent = await reload(app, delivery.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert route.call_count == 2
    assert smtp_server.envelopes == []


async def test_the_bot_token_reaches_no_log_line_and_no_stored_error(
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = apps["notifications"]
    route = telegram.post(SEND)
    route.side_effect = [httpx.ConnectTimeout("timed out"), httpx.Response(200, json=OK)]
    [delivery] = await deliveries_of(app, await accepted(accept, member_link_body(member())))

    assert await worker.run_once() == 1
    failed = await reload(app, delivery.id)
    await make_due(app, delivery.id)
    assert await worker.run_once() == 1

    assert route.call_count == 2
    assert failed.last_error == "telegram: ConnectTimeout"
    assert caplog.records
    assert not [r for r in caplog.records if BOT_TOKEN in r.getMessage() + str(r.__dict__)]


async def test_messages_in_flight_to_a_blocked_chat_fall_back_each_but_the_counselor_hears_once(
    accept: Accept,
    apps: dict[str, FastAPI],
    telegram: respx.MockRouter,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    route = telegram.post(SEND).respond(403, json=BLOCKED)
    person = member(email="dewi@siswa.example")
    bodies = [member_link_body(person) for _ in range(3)]
    for body in bodies[1:]:
        body["report_to"] = bodies[0]["report_to"]
    for body in bodies:
        await accepted(accept, body)

    assert await worker.run_once() == 3  # all three were on their way to Telegram
    assert await worker.run_once() == 4  # three emails to Dewi, one report

    assert route.call_count == 3
    counselor = bodies[0]["report_to"]["email"]
    rcpts = [r for e in smtp_server.envelopes for r in e.rcpt_tos]
    assert rcpts.count("dewi@siswa.example") == 3
    assert rcpts.count(counselor) == 1
