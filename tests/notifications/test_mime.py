"""The email's MIME bytes, written directly, read as the standard library's EmailMessage
would have written them: the same headers, parts, contents and invite, whatever the names and
words hold, 7-bit throughout, and no header a name or title could add."""

from __future__ import annotations

import email
import uuid
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import cast

import pytest

from services.notifications.channels.email import build_message
from services.notifications.channels.invite import Invite
from services.notifications.notifications.templates import Rendered
from services.notifications.settings import NotificationsSettings

ICS = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Sesi ☺ ujian\r\nEND:VCALENDAR\r\n"
NAMES = [
    "Bu Rina",
    'Rina, "Bu" (BK)',
    "Siti Nurhaliza — Wali",
    "王小明",
    "Rina\r\nBcc: someone@elsewhere.example",
]
SUBJECTS = [
    "Tautan pertemuan: Mengelola stres",
    "Tautan pertemuan: Sesi <b>&</b> diskusi ☺",
    "Pertemuan " + "sangat panjang sekali " * 20 + "— akhir",
    "Judul\nBcc: someone@elsewhere.example",
]
TEXTS = [
    "Halo Bu Rina,\n\nWaktu: 1 Desember 2026, 08.00 WIB\n",
    "Halo,\n" + "x" * 300 + "\n.\n. titik di awal baris\n— Lingkar",
    "ASCII only, a line =_ with what a boundary starts with\n",
]


def parsed(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(raw, policy=default_policy))


def content(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(cast(EmailMessage, part).get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("subject", SUBJECTS)
def test_headers_say_what_was_given_on_one_line_each(name: str, subject: str) -> None:
    settings = NotificationsSettings(env="test", smtp_from="Sekolah Ü <no-reply@sekolah.example>")
    delivery = uuid.uuid4()
    rendered = Rendered(subject=subject, text="Halo", html="<p>Halo</p>")
    mail = build_message(
        settings,
        delivery_id=delivery,
        to_name=name,
        to_address="rina@sekolah.example",
        rendered=rendered,
    )

    assert mail.content.isascii()
    assert all(len(line) <= 998 for line in mail.content.split(b"\r\n"))
    message = parsed(mail.content)
    assert not message.defects
    assert message["Subject"] == subject.replace("\n", " ")
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (name.replace("\r\n", "  "), "rina@sekolah.example")
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Sekolah Ü", "no-reply@sekolah.example")
    assert message.get_all("Bcc") is None
    assert message["Message-ID"] == f"<{delivery.hex}@lingkar.local>"
    assert message["X-Lingkar-Delivery"] == str(delivery)
    assert (mail.sender, mail.recipient) == ("no-reply@sekolah.example", "rina@sekolah.example")


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("with_invite", [False, True])
def test_parts_hold_the_words_and_the_invite_as_email_message_would(
    text: str, with_invite: bool
) -> None:
    rendered = Rendered(subject="S", text=text, html=f"<p>{text}</p>")
    invite = Invite(method="REQUEST", ics=ICS) if with_invite else None
    mail = build_message(
        NotificationsSettings(env="test"),
        delivery_id=uuid.uuid4(),
        to_name="Bu Rina",
        to_address="rina@sekolah.example",
        rendered=rendered,
        invite=invite,
    )

    message = parsed(mail.content)
    reference = EmailMessage()
    reference.set_content(text)
    reference.add_alternative(f"<p>{text}</p>", subtype="html")
    if invite is not None:
        reference.add_alternative(
            ICS.encode(),
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"method": "REQUEST", "charset": "utf-8"},
        )
        reference.add_attachment(
            ICS.encode(),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
            params={"name": "invite.ics"},
        )
    expected = parsed(bytes(reference))
    assert [p.get_content_type() for p in message.walk()] == [
        p.get_content_type() for p in expected.walk()
    ]
    assert not any(p.defects for p in message.walk())
    assert mail.content.isascii()
    for kind in ("plain", "html"):
        assert content(message, kind) == content(expected, kind)
    if invite is not None:
        parts = {p.get_content_type(): cast(EmailMessage, p) for p in message.walk()}
        calendar, attached = parts["text/calendar"], parts["application/ics"]
        assert calendar.get_param("method") == "REQUEST"
        assert calendar.get_payload(decode=True) == ICS.encode()  # CRLF kept
        assert attached.get_filename() == "invite.ics"
        assert attached.get_content() == ICS.encode()
