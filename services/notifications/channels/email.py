"""Email: over SMTP (aiosmtplib) when a host is configured, else into a local spool folder.

A batch's emails go over one SMTP connection (`Mailer`), one after the other: the worker
records each outcome before the next message starts, so a crash finds at most one message
taken by the server and not yet recorded, as with a connection per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr
from pathlib import Path

import aiosmtplib

from services.notifications.channels import mime
from services.notifications.channels.base import Connections, DeliveryFailed, Outgoing
from services.notifications.channels.invite import Invite, invite_for
from services.notifications.notifications.templates import Rendered
from services.notifications.settings import NotificationsSettings
from shared.timeutil import utcnow


class EmailFailed(DeliveryFailed):
    pass


def message_id(delivery_id: uuid.UUID) -> str:
    """The delivery's Message-ID: derived from the delivery alone, so every send carries it."""
    return f"<{delivery_id.hex}@lingkar.local>"


@dataclass(frozen=True)
class Mail:
    """A message ready for SMTP: the envelope and the message's bytes."""

    delivery_id: uuid.UUID
    sender: str
    recipient: str
    content: bytes


def build_message(
    settings: NotificationsSettings,
    *,
    delivery_id: uuid.UUID,
    to_name: str,
    to_address: str,
    rendered: Rendered,
    invite: Invite | None = None,
) -> Mail:
    headers = [
        f"From: {mime.address(settings.smtp_from)}",
        f"To: {mime.mailbox(to_name, to_address)}",
        mime.header("Subject", rendered.subject),
        f"Date: {format_datetime(utcnow())}",
        # Stable per delivery: a resend after a crash carries the same id, so mail clients fold it.
        f"Message-ID: {message_id(delivery_id)}",
        f"X-Lingkar-Delivery: {delivery_id}",
    ]
    alternatives = [
        mime.text_part("text/plain", rendered.text),
        mime.text_part("text/html", rendered.html),
    ]
    attachments = []
    if invite is not None:
        calendar, attachment = _invite_parts(invite)
        alternatives.append(calendar)
        attachments.append(attachment)
    return Mail(
        delivery_id=delivery_id,
        sender=parseaddr(settings.smtp_from)[1],
        recipient=to_address,
        content=mime.message(headers, alternatives, attachments),
    )


def _invite_parts(invite: Invite) -> tuple[mime.Part, mime.Part]:
    """As Google Calendar sends one: the invite as a third alternative (which Gmail and Outlook
    show as an invite with answer buttons), and again as invite.ics for clients that only look
    at attachments. The alternatives then sit in a multipart/mixed."""
    # In base64: the CRLF line ends iCalendar requires, and any non-ASCII title, arrive exactly
    # as written.
    ics = invite.ics.encode()
    calendar = mime.Part(
        f'text/calendar; method="{invite.method}"; charset="utf-8"', ics, binary=True
    )
    attachment = mime.Part(
        'application/ics; name="invite.ics"', ics, binary=True, filename="invite.ics"
    )
    return calendar, attachment


async def deliver(
    settings: NotificationsSettings, outgoing: Outgoing, connections: Connections
) -> None:
    """The email channel: text and HTML (and the calendar invite), to the delivery's address."""
    delivery = outgoing.delivery
    if any(c in delivery.address for c in "\r\n"):
        raise EmailFailed("the address holds a line break", permanent=True)
    mail = build_message(
        settings,
        delivery_id=delivery.id,
        to_name=delivery.person_name,
        to_address=delivery.address,
        rendered=outgoing.rendered,
        invite=invite_for(settings, outgoing),
    )
    if not settings.smtp_host:
        await asyncio.to_thread(_spool, settings.spool_dir, mail)
        return
    await connections.kept("smtp", lambda: Mailer(settings)).send(mail)


class Mailer:
    """One SMTP connection for a batch's messages, one message after the other: opened for the
    first, kept for the next, and opened again after a failure (which fails that message's
    attempt only). Each command has the outside-call time-out."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    async def send(self, mail: Mail) -> None:
        """Hand the message to the SMTP server; returns once the server has taken it."""
        options = [] if mail.sender.isascii() and mail.recipient.isascii() else ["SMTPUTF8"]
        try:
            client = await self._connected()
            await client.sendmail(mail.sender, [mail.recipient], mail.content, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # The envelope was reset (RSET): the connection serves the next message. A 4xx
            # refusal (greylisting, a full mailbox, "try again later") is tried again; a 5xx is
            # final (RFC 5321, 4.2.1).
            codes = [refused.code for refused in exc.recipients]
            if codes and all(400 <= code < 500 for code in codes):
                reason = f"recipient refused for now ({codes[0]})"
                raise EmailFailed(reason, permanent=False) from exc
            raise EmailFailed("recipient refused", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Whatever state the conversation is in, the next message starts a new one.
            self._drop()
            raise EmailFailed(type(exc).__name__, permanent=False) from exc

    async def _connected(self) -> aiosmtplib.SMTP:
        # A connection the server closed since (an idle time-out) reads as not connected.
        if self.client is not None and self.client.is_connected:
            return self.client
        self._drop()
        password = self.settings.smtp_password
        self.client = aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username,
            password=password.get_secret_value() if password else None,
            use_tls=self.settings.smtp_security == "tls",
            start_tls=self.settings.smtp_security == "starttls",
            timeout=self.settings.outside_call_timeout_seconds,
        )
        await self.client.connect()
        return self.client

    def _drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def aclose(self) -> None:
        """QUIT, after the batch's outcomes are recorded (a crash in between doubles nothing)."""
        client, self.client = self.client, None
        if client is None:
            return
        if client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        client.close()


def _spool(folder: Path, mail: Mail) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{mail.delivery_id}.tmp"
    temporary.write_bytes(mail.content)
    temporary.replace(folder / f"{mail.delivery_id}.eml")
