"""Passing a school's WhatsApp templates to the notifications service."""

from __future__ import annotations

import uuid
from typing import Any

from shared.contracts.notifications import Event
from shared.contracts.whatsapp import WhatsAppTemplate, WhatsAppTemplateIn
from shared.problems import ServiceUnavailable
from shared.service_client import ServiceCallFailed


def _url(app_state: Any, school_id: uuid.UUID, event: Event | None = None) -> str:
    base = app_state.settings.internal_url("notifications")
    path = f"/internal/v1/schools/{school_id}/whatsapp-templates"
    return base + path + (f"/{event.value}" if event else "")


async def save(
    *, app_state: Any, school_id: uuid.UUID, event: Event, data: WhatsAppTemplateIn
) -> WhatsAppTemplate:
    """Set the school's template for one event."""
    try:
        response = await app_state.service_client.post(
            "notifications", _url(app_state, school_id, event), json=data.model_dump(mode="json")
        )
    except ServiceCallFailed as exc:
        raise ServiceUnavailable("the template could not be saved; try again") from exc
    return WhatsAppTemplate.model_validate(response.json())


async def templates(*, app_state: Any, school_id: uuid.UUID) -> list[WhatsAppTemplate]:
    """Every event's template for the school: its own, or Lingkar's default."""
    try:
        response = await app_state.service_client.get("notifications", _url(app_state, school_id))
    except ServiceCallFailed as exc:
        raise ServiceUnavailable("the templates could not be read; try again") from exc
    return [WhatsAppTemplate.model_validate(item) for item in response.json()]
