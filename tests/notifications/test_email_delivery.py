"""The worker delivers email to a real SMTP server, in the reader's language and time zone."""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import pytest
from fastapi import FastAPI

from services.notifications.notifications.models import Delivery
from services.notifications.worker import Worker
from shared.timeutil import as_utc, utcnow
from tests.notifications.support import (
    Accept,
    SmtpServer,
    deliveries_of,
    died_after_sending,
    host_data,
    make_due,
    notification_body,
    recipient,
    reload,
    text_of,
)

pytestmark = pytest.mark.usefixtures("quiet_queue")

HOST_URL = "https://jitsi.example.sch.id/LingkarMZXW6YTBOI3DEMJRGEYTCMJRGE"


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(cast(EmailMessage, part).get_content())


async def accepted_delivery(
    accept: Accept, app: FastAPI, person: dict[str, Any], **data: Any
) -> Delivery:
    """Accept a host notification for one person; its one (pending) delivery."""
    answer = await accept(notification_body([person], data=host_data(host_url=HOST_URL, **data)))
    assert answer.status_code == 202, answer.text
    [delivery] = await deliveries_of(app, answer.json()["id"])
    return delivery


async def test_host_link_email_reaches_the_smtp_server_in_indonesian_and_wita(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    person = recipient(name="Bu Rina", locale="id", timezone="Asia/Makassar")
    delivery = await accepted_delivery(
        accept,
        apps["notifications"],
        person,
        session_title="Mengelola stres menjelang ujian",
        scheduled_start="2026-12-01T01:00:00Z",
    )
    worker = make_worker(smtp_server.port)

    sent = await worker.run_once()

    assert sent == 1
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [person["email"]]
    [message] = smtp_server.messages
    assert person["email"] in message["To"]
    assert message["Subject"] == "Tautan pertemuan: Mengelola stres menjelang ujian"
    assert message["Message-ID"]
    assert message["Message-ID"].strip("<>").split("@")[-1] == "lingkar.local"
    text = text_of(message)
    assert "Halo Bu Rina" in text
    assert "1 Desember 2026, 09.00 WITA" in text
    assert "60 menit" in text
    assert "Jitsi Meet" in text
    assert HOST_URL in text
    assert HOST_URL in html_of(message)

    stored = await reload(apps["notifications"], delivery.id)
    assert stored.status == "sent"
    assert stored.attempts == 1
    assert stored.sent_at is not None
    assert stored.last_error is None


async def test_a_sent_delivery_is_not_sent_again(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    await accepted_delivery(accept, apps["notifications"], recipient())
    worker = make_worker(smtp_server.port)
    assert await worker.run_once() == 1

    assert await worker.run_once() == 0
    assert await make_worker(smtp_server.port).run_once() == 0
    assert len(smtp_server.envelopes) == 1


async def test_a_title_with_markup_is_escaped_in_the_html_part(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    title = 'Sesi <script>alert("x")</script> & diskusi'
    await accepted_delivery(
        accept, apps["notifications"], recipient(name="<b>Rina</b>"), session_title=title
    )

    assert await make_worker(smtp_server.port).run_once() == 1

    [message] = smtp_server.messages
    html = html_of(message)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&amp; diskusi" in html
    assert "<b>Rina</b>" not in html
    assert title in text_of(message)
    assert message["Subject"] == f"Tautan pertemuan: {title}"


async def test_english_reader_in_papua_gets_english_text_in_wit(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    person = recipient(name="Mr Yosef", locale="en", timezone="Asia/Jayapura")
    await accepted_delivery(
        accept,
        apps["notifications"],
        person,
        session_title="Career planning",
        scheduled_start="2026-12-01T01:00:00+00:00",
        passcode="739154",
    )

    assert await make_worker(smtp_server.port).run_once() == 1

    [message] = smtp_server.messages
    assert message["Subject"] == "Meeting link: Career planning"
    text = text_of(message)
    assert "Hello Mr Yosef" in text
    assert "1 December 2026, 10:00 WIT" in text
    assert "WITA" not in text
    assert "Passcode: 739154" in text
    assert HOST_URL in text
    assert "Tautan" not in text


async def test_smtp_down_leaves_the_delivery_pending_with_backoff_then_it_is_sent_once(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_down: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    app = apps["notifications"]
    delivery = await accepted_delivery(accept, app, recipient())
    worker = make_worker(smtp_down.port)

    assert await worker.run_once() == 1

    failed = await reload(app, delivery.id)
    assert failed.status == "pending"
    assert failed.attempts == 1
    assert failed.last_error
    assert as_utc(failed.next_attempt_at) > utcnow()
    assert failed.locked_until is None

    assert await worker.run_once() == 0  # backing off: not due yet
    assert (await reload(app, delivery.id)).attempts == 1

    await make_due(app, delivery.id)
    smtp_down.start()

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    assert len(smtp_down.envelopes) == 1
    sent = await reload(app, delivery.id)
    assert sent.status == "sent"
    assert sent.attempts == 2
    assert sent.last_error is None


async def test_without_an_smtp_host_the_message_is_spooled_as_an_eml_file(
    accept: Accept, apps: dict[str, FastAPI], make_worker: Callable[..., Worker]
) -> None:
    person = recipient(locale="id", timezone="Asia/Jakarta")
    delivery = await accepted_delivery(
        accept, apps["notifications"], person, session_title="Spool test"
    )
    worker = make_worker()
    assert worker.settings.smtp_host is None

    assert await worker.run_once() == 1

    spool = worker.settings.spool_dir
    assert [p.name for p in spool.iterdir()] == [f"{delivery.id}.eml"]
    message = cast(
        EmailMessage,
        email.message_from_bytes(
            (spool / f"{delivery.id}.eml").read_bytes(), policy=default_policy
        ),
    )
    assert person["email"] in message["To"]
    assert message["Subject"] == "Tautan pertemuan: Spool test"
    assert "1 Desember 2026, 08.00 WIB" in text_of(message)
    assert (await reload(apps["notifications"], delivery.id)).status == "sent"


async def test_a_delivery_taken_again_after_a_crash_keeps_its_message_id(
    accept: Accept,
    apps: dict[str, FastAPI],
    smtp_server: SmtpServer,
    make_worker: Callable[..., Worker],
) -> None:
    app = apps["notifications"]
    delivery = await accepted_delivery(accept, app, recipient())
    assert await make_worker(smtp_server.port).run_once() == 1
    await died_after_sending(app, delivery.id)

    assert await make_worker(smtp_server.port).run_once() == 1

    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert delivery.id.hex in first["Message-ID"]
    assert (await reload(app, delivery.id)).status == "sent"
