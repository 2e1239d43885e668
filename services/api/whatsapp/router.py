"""The school's WhatsApp templates, per event (school admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.api.auth.deps import SchoolAdmin
from services.api.whatsapp import service
from shared.contracts.notifications import Event
from shared.contracts.whatsapp import WhatsAppTemplate, WhatsAppTemplateIn
from shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/school/whatsapp-templates",
    tags=["whatsapp templates"],
    responses=problem_responses(401, 403, 404),
)


@router.get("", response_model=list[WhatsAppTemplate])
async def list_templates(request: Request, principal: SchoolAdmin) -> list[WhatsAppTemplate]:
    """The template each event is sent with on WhatsApp; `configured: false` is Lingkar's
    default (`lingkar_<event>`, the reader's language)."""
    return await service.templates(app_state=request.app.state, school_id=principal.tenant)


@router.put("/{event}", response_model=WhatsAppTemplate)
async def set_template(
    event: Event, data: WhatsAppTemplateIn, request: Request, principal: SchoolAdmin
) -> WhatsAppTemplate:
    """Name the school's approved template for an event, its language, the values of its body
    parameters in order, and its URL button. WhatsApp sends only approved templates to people
    who have not written in the last 24 hours, which is everyone Lingkar writes to first."""
    return await service.save(
        app_state=request.app.state, school_id=principal.tenant, event=event, data=data
    )
