"""WhatsApp: the Cloud API's messages endpoint, with approved templates only.

The 24-hour rule: a business may send free-form text only within 24 hours of the person's last
message to it. Lingkar starts every conversation (a consent request, a link, a change), so it
sends templates only, never free text, and needs no track of who wrote when. A template refused
later for that reason (131047) arrives as a `failed` status webhook, not in this answer.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.channels.base import (
    Connections,
    DeliveryFailed,
    Outgoing,
    json_object,
)
from services.notifications.settings import NotificationsSettings
from services.notifications.whatsapp import service as templates
from shared.contracts.whatsapp import WhatsAppTemplate

# The Cloud API's error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
UNDELIVERABLE = 131026  # not on WhatsApp, an old app, or has not accepted the terms
RATE_LIMITED = frozenset({4, 80007, 130429, 131048, 131056})
TEMPORARY = frozenset({1, 2, 131000, 131016, 133004, 190})  # 190: the token expired
MAX_PARAMETER = 1024


class WhatsAppFailed(DeliveryFailed):
    pass


async def prepare(db: AsyncSession, outgoing: Outgoing) -> Outgoing:
    """Look up the school's template for the event."""
    template = await templates.template_for(
        db=db, school_id=outgoing.delivery.school_id, event=outgoing.notification.event
    )
    return dataclasses.replace(outgoing, template=template)


def parameter(value: str) -> dict[str, str]:
    # A template parameter may hold no new line, tab or run of spaces (error 132018), nor be empty.
    text = " ".join(value.split()) or "-"
    return {"type": "text", "text": text[:MAX_PARAMETER]}


def button_suffix(link: str, base: str | None) -> str:
    """The part of the link that fills the button URL's {{1}} (the template holds the rest)."""
    if base is None:
        parts = urlsplit(link)
        return parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    if not link.startswith(base):
        raise WhatsAppFailed(
            "the link does not start with the template's button_url_base", permanent=True
        )
    return link[len(base) :]


def request_body(outgoing: Outgoing, template: WhatsAppTemplate) -> dict[str, Any]:
    rendered, delivery = outgoing.rendered, outgoing.delivery
    components: list[dict[str, Any]] = []
    if template.body_parameters:
        values = [parameter(rendered.values.get(p.value, "")) for p in template.body_parameters]
        components.append({"type": "body", "parameters": values})
    if template.link_button and rendered.link:
        suffix = button_suffix(rendered.link, template.button_url_base)
        components.append(
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [parameter(suffix)]}
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": delivery.address.lstrip("+"),
        "type": "template",
        "template": {
            "name": template.name,
            "language": {"code": template.language or delivery.locale},
            "components": components,
        },
    }


async def deliver(
    settings: NotificationsSettings, outgoing: Outgoing, connections: Connections
) -> str | None:
    """The WhatsApp channel: one template message; answers its wamid."""
    token = (
        settings.whatsapp_access_token.get_secret_value() if settings.whatsapp_access_token else ""
    )
    number = settings.whatsapp_phone_number_id
    if not token or not number:
        raise WhatsAppFailed("WhatsApp is not configured", permanent=True)
    body = request_body(
        outgoing, outgoing.template or templates.default_template(outgoing.notification.event)
    )
    url = f"{settings.whatsapp_api_url.rstrip('/')}/{number}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = await connections.http().post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise WhatsAppFailed(f"whatsapp: {type(exc).__name__}", permanent=False) from None
    answer = json_object(response)
    if response.is_success:
        messages = answer.get("messages") or [{}]
        wamid = messages[0].get("id") if isinstance(messages[0], dict) else None
        return str(wamid) if wamid else None
    raise refusal(response, answer)


def refusal(response: httpx.Response, answer: dict[str, Any]) -> WhatsAppFailed:
    """What an error answer (`{error: {code, message, error_data}}`) means for the delivery."""
    error = answer.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    reason = f"whatsapp {code or response.status_code}: {str(error.get('message') or '')[:300]}"
    if code == UNDELIVERABLE:
        return WhatsAppFailed(reason, permanent=True, unreachable=True)
    if response.status_code == 429 or code in RATE_LIMITED:
        return WhatsAppFailed(reason, permanent=False, retry_after=_retry_after(response))
    if response.status_code >= 500 or response.status_code == 401 or code in TEMPORARY:
        return WhatsAppFailed(reason, permanent=False)
    return WhatsAppFailed(reason, permanent=True)


def _retry_after(response: httpx.Response) -> timedelta | None:
    seconds = response.headers.get("retry-after", "")
    return timedelta(seconds=int(seconds)) if seconds.isdigit() else None
