"""Telegram: the Bot API's sendMessage, with the event's link on an inline button.

The bot's token is part of the URL's path, so neither the URL nor an httpx error (whose text
may carry it) is ever logged or kept: failures keep Telegram's own description only.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

import httpx

from services.notifications.channels.base import (
    Connections,
    DeliveryFailed,
    Outgoing,
    json_object,
)
from services.notifications.notifications.templates import Rendered
from services.notifications.settings import NotificationsSettings

# sendMessage takes 1-4096 characters of text after its entities are parsed; Telegram counts
# them in UTF-16 code units, as an emoji is two.
MAX_TEXT = 4096
ELLIPSIS = "…"


class TelegramFailed(DeliveryFailed):
    pass


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-16 units, cut at a space where one is near, marked '…'."""
    if utf16_length(text) <= limit:
        return text
    units, end = 0, 0
    for end, char in enumerate(text):  # noqa: B007 - `end` is where the cut falls
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit - 1:
            break
    kept = text[:end]
    space = kept.rfind(" ")
    if space > len(kept) - 40:
        kept = kept[:space]
    return kept.rstrip() + ELLIPSIS


def message_text(rendered: Rendered) -> str:
    """The subject in bold over the body, both escaped for parse_mode HTML, within the limit.

    The plain text is cut before escaping, so no entity (`&amp;`) or tag is ever cut in half;
    escapes count as one character once Telegram has parsed them.
    """
    subject = cut(rendered.subject, 200)
    body = cut(rendered.text, MAX_TEXT - utf16_length(subject) - 2)
    return f"<b>{escape(subject, quote=False)}</b>\n\n{escape(body, quote=False)}"


def request_body(chat_id: str, rendered: Rendered) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chat_id": chat_id,
        "text": message_text(rendered),
        "parse_mode": "HTML",
        # No preview: Telegram's servers would fetch the join link, and a gate counts clicks.
        "link_preview_options": {"is_disabled": True},
    }
    if rendered.link and rendered.button:
        body["reply_markup"] = {
            "inline_keyboard": [[{"text": rendered.button, "url": rendered.link}]]
        }
    return body


async def deliver(
    settings: NotificationsSettings, outgoing: Outgoing, connections: Connections
) -> None:
    """The Telegram channel: one message to the person's chat with the bot."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token:
        raise TelegramFailed(
            "Telegram is not configured (LINGKAR_TELEGRAM_BOT_TOKEN)", permanent=True
        )
    url = f"{settings.telegram_api_url.rstrip('/')}/bot{token}/sendMessage"
    body = request_body(outgoing.delivery.address, outgoing.rendered)
    try:
        response = await connections.http().post(url, json=body)
    except httpx.HTTPError as exc:
        # `from None`: the exception's text and request carry the URL, and so the token.
        raise TelegramFailed(f"telegram: {type(exc).__name__}", permanent=False) from None
    answer = json_object(response)
    if response.is_success and answer.get("ok") is True:
        return
    raise refusal(response.status_code, answer)


def refusal(status: int, answer: dict[str, Any]) -> TelegramFailed:
    """What an `{ok: false}` answer means for the delivery."""
    code = answer.get("error_code", status)
    reason = f"telegram {code}: {str(answer.get('description') or 'no description')[:300]}"
    if code == 429:
        seconds = (answer.get("parameters") or {}).get("retry_after")
        wait = timedelta(seconds=float(seconds)) if isinstance(seconds, int | float) else None
        return TelegramFailed(reason, permanent=False, retry_after=wait)
    if code == 403:
        # "bot was blocked by the user", "bot can't initiate conversation with a user": only the
        # person can change that, by (re)starting the bot.
        return TelegramFailed(reason, permanent=True, unreachable=True)
    if code == 400:
        return TelegramFailed(reason, permanent=True)
    # 5xx, and 401/404 (the operator's token is wrong: retried while they mend it).
    return TelegramFailed(reason, permanent=False)
