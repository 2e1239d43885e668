"""A school's WhatsApp message templates, as the api passes them to the notifications service.

WhatsApp lets a business start a conversation (more than 24 hours after the person last wrote)
only with a template Meta approved beforehand, so Lingkar sends nothing else. Each school names
its approved templates per event: the name, the language, which of Lingkar's values fill the
body's {{1}}, {{2}}, ... in order, and whether the template has a URL button for the link.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.contracts.notifications import Event
from shared.validation import Payload


class TemplateValue(StrEnum):
    """What can fill a template's body parameter."""

    reader_name = "name"  # the reader's name
    session_title = "title"  # the session's title
    when = "when"  # its time, in the reader's zone
    minutes = "minutes"
    provider = "provider"
    student_name = "student_name"
    person_name = "person_name"  # who could not be reached (contact_unreachable)
    channel = "channel"  # on which channel
    reason = "reason"  # why a session was cancelled
    follow_up = "follow_up"
    expires = "expires"  # until when a consent link works
    members = "members"


class WhatsAppTemplateIn(Payload):
    name: str = Field(
        pattern=r"^[a-z0-9_]{1,512}$",
        examples=["lingkar_consent_requested"],
        description="The template's name as approved in WhatsApp Manager",
    )
    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
        examples=["id"],
        description="The approved language code; none: the reader's own (id or en)",
    )
    body_parameters: list[TemplateValue] = Field(
        default_factory=list,
        max_length=10,
        examples=[["name", "title", "when"]],
        description="Lingkar's values for the body's {{1}}, {{2}}, ... in that order",
    )
    link_button: bool = Field(
        default=True, description="The template has a URL button whose suffix is the link"
    )
    button_url_base: str | None = Field(
        default=None,
        pattern=r"^https://[^\s/]+/\S*$",
        examples=["https://lingkar.sekolah.sch.id/"],
        description="The fixed start of the button's URL in the template; the rest of the link "
        "fills its {{1}}. None: the link's own origin (a template URL of https://<host>/{{1}})",
    )


class WhatsAppTemplate(WhatsAppTemplateIn):
    event: Event
    configured: bool = Field(description="False: Lingkar's built-in default for the event")
