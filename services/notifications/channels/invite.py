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
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from services.notifications.channels.base import Outgoing
from services.notifications.notifications.cancel import sequence_of
from services.notifications.settings import NotificationsSettings
from shared.contracts.notifications import Event
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from icalendar import vCalAddress

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
    # Imported here, not at the top: the notifications service's process never makes an
    # invite (the worker does), and icalendar costs it about 3 MB.
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    data = notification.data
    start = datetime.fromisoformat(data["scheduled_start"]).astimezone(UTC)
    event = CalendarEvent()
    event.add("uid", uid(notification.session_id, delivery.person_id))
    event.add("dtstamp", as_utc(notification.created_at))
    event.add("sequence", sequence_of(notification))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=int(data.get("duration_minutes") or 60)))
    event.add("summary", str(data.get("session_title", "")))
    # The person's own words and link: a member's join link, the counselor's host gate.
    event.add("description", outgoing.rendered.text)
    link = data.get("join_url") or data.get("host_url")
    if link:
        event.add("url", link)
        event.add("location", link)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _organizer(settings, data))
    event.add("attendee", _attendee(outgoing, host=bool(data.get("host_url"))))
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(event)
    return Invite(method=method, ics=calendar.to_ical().decode())


def _organizer(settings: NotificationsSettings, data: dict[str, Any]) -> vCalAddress:
    """The counselor organizes; Lingkar's own address sends on their behalf."""
    from icalendar import vCalAddress

    sender = parseaddr(settings.smtp_from)[1]
    address = vCalAddress(f"mailto:{data.get('organizer_email') or sender}")
    address.params["CN"] = str(data.get("organizer_name") or "Lingkar")
    if data.get("organizer_email") and data["organizer_email"] != sender:
        address.params["SENT-BY"] = f"mailto:{sender}"
    return address


def _attendee(outgoing: Outgoing, *, host: bool) -> vCalAddress:
    """Only the reader: a member's invite never lists the other members."""
    from icalendar import vCalAddress

    delivery = outgoing.delivery
    address = vCalAddress(f"mailto:{delivery.address}")
    address.params["CN"] = delivery.person_name
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "CHAIR" if host else "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "TRUE"
    return address
