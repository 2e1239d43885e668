"""Which approved WhatsApp template each event of a school is sent with.

A school that set nothing gets Lingkar's defaults: a template named `lingkar_<event>` in the
reader's language, with the values below, and a URL button for events that carry a link. The
operator gets those approved once in WhatsApp Manager; a school with its own templates names
them per event.
"""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.whatsapp.models import WhatsAppTemplateSetting
from shared.contracts.notifications import Event
from shared.contracts.whatsapp import TemplateValue as V
from shared.contracts.whatsapp import WhatsAppTemplate, WhatsAppTemplateIn
from shared.db import serialize
from shared.timeutil import utcnow

DEFAULT_PARAMETERS: dict[str, list[V]] = {
    Event.consent_requested: [V.reader_name, V.session_title, V.when, V.expires],
    Event.meeting_provisioned_host: [V.reader_name, V.session_title, V.when],
    Event.meeting_provisioned_member: [V.reader_name, V.session_title, V.when],
    Event.consent_withdrawn: [V.reader_name, V.student_name, V.session_title],
    Event.session_rescheduled: [V.reader_name, V.session_title, V.when],
    Event.session_cancelled: [V.reader_name, V.session_title, V.when, V.reason],
    Event.follow_up_due: [V.reader_name, V.session_title, V.follow_up],
    Event.contact_unreachable: [V.reader_name, V.person_name, V.channel, V.session_title],
}
# Events that carry a link (consent, join, host): their default template has a URL button.
LINKED_EVENTS = frozenset(
    {
        Event.consent_requested,
        Event.meeting_provisioned_host,
        Event.meeting_provisioned_member,
        Event.session_rescheduled,
    }
)


def default_template(event: str) -> WhatsAppTemplate:
    """Lingkar's built-in template for an event, used until the school names its own."""
    return WhatsAppTemplate(
        event=Event(event),
        name=f"lingkar_{event}",
        body_parameters=DEFAULT_PARAMETERS.get(event, [V.reader_name, V.session_title, V.when]),
        link_button=event in LINKED_EVENTS,
        configured=False,
    )


def _public(row: WhatsAppTemplateSetting) -> WhatsAppTemplate:
    return WhatsAppTemplate(
        event=Event(row.event),
        name=row.name,
        language=row.language,
        body_parameters=[V(p) for p in row.body_parameters],
        link_button=row.link_button,
        button_url_base=row.button_url_base,
        configured=True,
    )


async def _setting(
    db: AsyncSession, school_id: uuid.UUID, event: str
) -> WhatsAppTemplateSetting | None:
    query = select(WhatsAppTemplateSetting).where(
        WhatsAppTemplateSetting.school_id == school_id, WhatsAppTemplateSetting.event == event
    )
    return (await db.exec(query)).first()


async def template_for(*, db: AsyncSession, school_id: uuid.UUID, event: str) -> WhatsAppTemplate:
    """The template this school sends the event with: its own, or the default."""
    row = await _setting(db, school_id, event)
    return _public(row) if row else default_template(event)


async def templates(*, db: AsyncSession, school_id: uuid.UUID) -> list[WhatsAppTemplate]:
    """Every event's template for the school, its own where set."""
    rows = await db.exec(
        select(WhatsAppTemplateSetting).where(WhatsAppTemplateSetting.school_id == school_id)
    )
    own = {row.event: _public(row) for row in rows.all()}
    return [own.get(event.value) or default_template(event.value) for event in Event]


async def save(
    *, db: AsyncSession, school_id: uuid.UUID, event: Event, data: WhatsAppTemplateIn
) -> WhatsAppTemplate:
    """Set (or replace) the school's template for one event."""
    # Two first saves at once would both insert: the second waits for the first, then updates.
    await serialize(db, f"whatsapp-template:{school_id}:{event.value}")
    row = await _setting(db, school_id, event.value) or WhatsAppTemplateSetting(
        school_id=school_id, event=event.value, name=data.name, body_parameters=[]
    )
    row.name, row.language = data.name, data.language
    row.body_parameters = [p.value for p in data.body_parameters]
    row.link_button, row.button_url_base = data.link_button, data.button_url_base
    row.updated_at = utcnow()
    db.add(row)
    await db.flush()
    return _public(row)
