"""The calendar invite an email carries (iCalendar over email, RFC 5545 and 5546).

One event per session and person: its UID is derived from both, so every message about the
session to that person updates the same entry in their calendar, and nobody's entry is
another's. SEQUENCE is the session's schedule sequence from the api: it rises on every
reschedule and on cancel, and a re-sent message carries the same one. DTSTAMP is the time the
notification was accepted, so a re-sent message is byte for byte the same invite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from services.notifications.channels import ical
from services.notifications.channels.base import Outgoing
from services.notifications.notifications.cancel import sequence_of
from services.notifications.settings import NotificationsSettings
from shared.contracts.notifications import Event
from shared.timeutil import as_utc

METHODS = {
    Event.meeting_provisioned_member.value: "REQUEST",
    Event.meeting_provisioned_host.value: "REQUEST",
    Event.session_rescheduled.value: "REQUEST",
    Event.session_cancelled.value: "CANCEL",
}
# Fixed forever: changing it would give every session a second entry in people's calendars.
UID_NAMESPACE = uuid.UUID("6f1c3a52-8f0e-4b53-9a55-2b7e51d0c1a4")
PRODID = "-//Lingkar//Bimbingan Kelompok//ID"


@dataclass(frozen=True)
class Invite:
    method: str
    ics: str


def uid(session_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """Stable per session and person, and says neither id outright."""
    return f"{uuid.uuid5(UID_NAMESPACE, f'{session_id}:{person_id}').hex}@lingkar.local"


def invite_for(settings: NotificationsSettings, outgoing: Outgoing) -> Invite | None:
    """The invite for this email, or None when its event is not about the session's time."""
    notification, delivery = outgoing.notification, outgoing.delivery
    method = METHODS.get(notification.event)
    if method is None or notification.session_id is None:
        return None
    data = notification.data
    start = datetime.fromisoformat(data["scheduled_start"])
    end = start + timedelta(minutes=int(data.get("duration_minutes") or 60))
    link = data.get("join_url") or data.get("host_url")
    event = [
        ical.line("UID", uid(notification.session_id, delivery.person_id)),
        ical.line("DTSTAMP", ical.date_time(as_utc(notification.created_at))),
        ical.line("SEQUENCE", str(sequence_of(notification))),
        ical.line("DTSTART", ical.date_time(start)),
        ical.line("DTEND", ical.date_time(end)),
        ical.line("SUMMARY", ical.text(str(data.get("session_title", "")))),
        # The person's own words and link: a member's join link, the counselor's host gate.
        ical.line("DESCRIPTION", ical.text(outgoing.rendered.text)),
    ]
    if link:
        event.append(ical.line("URL", ical.uri(link)))
        event.append(ical.line("LOCATION", ical.text(link)))
    event += [
        ical.line("STATUS", "CANCELLED" if method == "CANCEL" else "CONFIRMED"),
        ical.line("TRANSP", "OPAQUE"),
        _organizer(settings, data),
        _attendee(outgoing, host=bool(data.get("host_url"))),
    ]
    return Invite(
        method=method,
        ics=ical.calendar(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                ical.line("PRODID", PRODID),
                "CALSCALE:GREGORIAN",
                f"METHOD:{method}",
                "BEGIN:VEVENT",
                *event,
                "END:VEVENT",
                "END:VCALENDAR",
            ]
        ),
    )


def _organizer(settings: NotificationsSettings, data: dict[str, Any]) -> str:
    """The counselor organizes; Lingkar's own address sends on their behalf."""
    sender = parseaddr(settings.smtp_from)[1]
    organizer = data.get("organizer_email") or sender
    params = [("CN", str(data.get("organizer_name") or "Lingkar"))]
    if data.get("organizer_email") and data["organizer_email"] != sender:
        params.append(("SENT-BY", f"mailto:{sender}"))
    return ical.line("ORGANIZER", ical.uri(f"mailto:{organizer}"), params)


def _attendee(outgoing: Outgoing, *, host: bool) -> str:
    """Only the reader: a member's invite never lists the other members."""
    delivery = outgoing.delivery
    params = [
        ("CN", delivery.person_name),
        ("CUTYPE", "INDIVIDUAL"),
        ("ROLE", "CHAIR" if host else "REQ-PARTICIPANT"),
        ("PARTSTAT", "NEEDS-ACTION"),
        ("RSVP", "TRUE"),
    ]
    return ical.line("ATTENDEE", ical.uri(f"mailto:{delivery.address}"), params)
