"""The secret token of a school's Zoom app, which signs the school's webhook calls."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from shared.problems import NotFound

# The school's webhook secret token, or None when the school has not set up Zoom (the app
# keeps one in `app.state.zoom_webhook_secret`).
WebhookSecrets = Callable[[uuid.UUID], Awaitable[str | None]]


class ZoomWebhookNotSetUp(NotFound):
    type, title = "zoom-webhook-not-set-up", "Zoom webhook not set up"


async def zoom_webhook_secret(school_id: uuid.UUID, request: Request) -> str:
    """The school's secret token; 404 alike for an unknown school and one without Zoom."""
    secrets: WebhookSecrets | None = getattr(request.app.state, "zoom_webhook_secret", None)
    secret = await secrets(school_id) if secrets else None
    if not secret:
        raise ZoomWebhookNotSetUp("no Zoom webhook is set up here")
    return secret


ZoomWebhookSecret = Annotated[str, Depends(zoom_webhook_secret)]
