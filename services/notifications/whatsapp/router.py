"""WhatsApp routes: the schools' templates (internal, the api's school admins set them) and the
Cloud API's status webhook (public: Meta's signature is the credential)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from services.notifications.db import DbSession
from services.notifications.whatsapp import service, webhooks
from services.notifications.whatsapp.schemas import Receipt
from shared.contracts.notifications import Event
from shared.contracts.whatsapp import WhatsAppTemplate, WhatsAppTemplateIn
from shared.problems import problem_responses
from shared.service_auth import CallingService

internal = APIRouter(
    prefix="/internal/v1/schools/{school_id}/whatsapp-templates",
    tags=["internal"],
    responses=problem_responses(401, 404),
)
# 404 until the operator sets the WhatsApp app secret and verify token.
public = APIRouter(
    prefix="/webhooks/whatsapp", tags=["webhooks"], responses=problem_responses(401, 403, 404)
)


@internal.post("/{event}", response_model=WhatsAppTemplate)
async def save_template(
    school_id: uuid.UUID,
    event: Event,
    data: WhatsAppTemplateIn,
    db: DbSession,
    _: CallingService,
) -> WhatsAppTemplate:
    return await service.save(db=db, school_id=school_id, event=event, data=data)


@internal.get("", response_model=list[WhatsAppTemplate])
async def list_templates(
    school_id: uuid.UUID, db: DbSession, _: CallingService
) -> list[WhatsAppTemplate]:
    return await service.templates(db=db, school_id=school_id)


def _secret(request: Request, name: str) -> str | None:
    value = getattr(request.app.state.settings, name)
    return value.get_secret_value() if value is not None else None


@public.get(
    "",
    response_class=PlainTextResponse,
    responses={403: {"description": "Not this service's verify token"}},
)
async def verify_subscription(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> str:
    """Meta's check when the webhook is set up: the challenge back, for our verify token."""
    return webhooks.verify_subscription(
        verify_token=_secret(request, "whatsapp_verify_token"),
        mode=mode,
        token=token,
        challenge=challenge,
    )


@public.post(
    "",
    response_model=Receipt,
    responses={401: {"description": "Not signed with the Meta app's secret"}},
)
async def message_statuses(request: Request, db: DbSession) -> Receipt:
    """Record sent, delivered, read and failed statuses of the messages Lingkar sent."""
    return await webhooks.receive(
        db=db,
        app_secret=_secret(request, "whatsapp_app_secret"),
        body=await request.body(),  # the signature is over the raw bytes
        signature=request.headers.get("x-hub-signature-256"),
        unconfigured=request.app.state.settings.unconfigured_channels,
    )
