"""Zoom's event notifications. Public: the signature with the school's secret is the credential."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.meetings.db import DbSession
from services.meetings.zoom_webhooks import service
from services.meetings.zoom_webhooks.deps import ZoomWebhookSecret
from services.meetings.zoom_webhooks.schemas import Receipt, UrlValidation

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/zoom/{school_id}",
    responses={
        401: {"description": "Not signed with the school's secret token, or not sent just now"},
        404: {"description": "No Zoom webhook is set up for this school"},
    },
)
async def zoom_event(
    school_id: uuid.UUID, request: Request, db: DbSession, secret: ZoomWebhookSecret
) -> UrlValidation | Receipt:
    """Answer Zoom's URL challenge, or record a meeting's start, end, joins and leaves."""
    return await service.receive(
        db=db,
        school_id=school_id,
        secret=secret,
        body=await request.body(),  # the signature is over the raw bytes
        timestamp=request.headers.get("x-zm-request-timestamp"),
        signature=request.headers.get("x-zm-signature"),
    )
