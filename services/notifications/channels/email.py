"""Email: over SMTP (aiosmtplib) when a host is configured, else into a local spool folder."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtplib

from services.notifications.channels.base import DeliveryFailed, Outgoing
from services.notifications.channels.invite import Invite, invite_for
from services.notifications.notifications.templates import Rendered
from services.notifications.settings import NotificationsSettings
from shared.timeutil import utcnow


class EmailFailed(DeliveryFailed):
    pass


def message_id(delivery_id: uuid.UUID) -> str:
    """The delivery's Message-ID: derived from the delivery alone, so every send carries it."""
    return f"<{delivery_id.hex}@lingkar.local>"


def build_message(
    settings: NotificationsSettings,
    *,
    delivery_id: uuid.UUID,
    to_name: str,
    to_address: str,
    rendered: Rendered,
    invite: Invite | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = formataddr((to_name, to_address))
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(utcnow())
    # Stable per delivery: a resend after a crash carries the same id, so mail clients fold it.
    message["Message-ID"] = message_id(delivery_id)
    message["X-Lingkar-Delivery"] = str(delivery_id)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if invite is not None:
        _attach_invite(message, invite)
    return message


def _attach_invite(message: EmailMessage, invite: Invite) -> None:
    """As Google Calendar sends one: the invite as a third alternative (which Gmail and Outlook
    show as an invite with answer buttons), and again as invite.ics for clients that only look
    at attachments. The alternatives then sit in a multipart/mixed."""
    # As bytes in base64: the CRLF line ends iCalendar requires, and any non-ASCII title, arrive
    # exactly as written (a text part would be re-wrapped with the policy's line ends).
    ics = invite.ics.encode()
    message.add_alternative(
        ics,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": invite.method, "charset": "utf-8"},
    )
    message.add_attachment(
        ics,
        maintype="application",
        subtype="ics",
        filename="invite.ics",
        params={"name": "invite.ics"},
    )


async def deliver(settings: NotificationsSettings, outgoing: Outgoing) -> None:
    """The email channel: text and HTML (and the calendar invite), to the delivery's address."""
    delivery = outgoing.delivery
    message = build_message(
        settings,
        delivery_id=delivery.id,
        to_name=delivery.person_name,
        to_address=delivery.address,
        rendered=outgoing.rendered,
        invite=invite_for(settings, outgoing),
    )
    await send(settings, message)


async def send(settings: NotificationsSettings, message: EmailMessage) -> None:
    """Hand the message to the SMTP server; returns once the server has taken it."""
    if not settings.smtp_host:
        await asyncio.to_thread(_spool, settings.spool_dir, message)
        return
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.outside_call_timeout_seconds,
    )
    try:
        await client.connect()
        await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        client.close()
        raise EmailFailed("recipient refused", permanent=True) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        client.close()
        raise EmailFailed(type(exc).__name__, permanent=False) from exc
    # The server took the message at its reply to the end of DATA. A crash from then until the
    # worker has recorded it sends the message again, so the QUIT exchange, which the record
    # need not wait for, goes on beside it rather than before it.
    goodbye = asyncio.create_task(_quit(client))
    _quitting.add(goodbye)
    goodbye.add_done_callback(_quitting.discard)


_quitting: set[asyncio.Task[None]] = set()


async def _quit(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await client.quit()
    client.close()


def _spool(folder: Path, message: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = message["X-Lingkar-Delivery"]
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(bytes(message))
    temporary.replace(folder / f"{name}.eml")
