"""Our iCalendar writer against an independent reader (the icalendar package): whatever a
title, a name or a message holds, the reader gets back exactly it, on lines of at most 75
octets, and no value can add a property of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from services.notifications.channels import ical
from services.notifications.channels.base import Outgoing
from services.notifications.channels.invite import invite_for
from services.notifications.settings import NotificationsSettings

SETTINGS = NotificationsSettings(env="test", smtp_from="Lingkar <no-reply@lingkar.local>")
# Any text, with what iCalendar treats specially over-represented.
words = st.text(
    alphabet=st.one_of(
        st.sampled_from([*'\\;,:"^\r\n\t ', "é", "ä", "漢", "😀", "\x00", "\x1b", "\x7f"]),
        st.characters(codec="utf-8"),
    ),
    max_size=200,
)
# The reader takes a backslash in a parameter's value as an escape, which RFC 5545 has not
# (the writer quotes such a value and leaves the backslash be, as icalendar's own writer did).
names = words.map(lambda value: value.replace("\\", "/"))


def invite_text(title: str, organizer: str, person: str, message: str) -> str:
    notification = SimpleNamespace(
        event="meeting_provisioned_member",
        session_id=uuid.UUID(int=1),
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        data={
            "session_title": title,
            "scheduled_start": "2026-12-10T09:00:00+07:00",
            "duration_minutes": 45,
            "schedule_sequence": 3,
            "join_url": "https://api.sekolah.example/j/abc,def;ghi",
            "organizer_name": organizer,
            "organizer_email": "rina@sekolah.example",
        },
    )
    delivery = SimpleNamespace(
        person_id=uuid.UUID(int=2), address="siti@sekolah.example", person_name=person
    )
    outgoing = cast(
        Outgoing,
        SimpleNamespace(
            notification=notification,
            delivery=delivery,
            rendered=SimpleNamespace(text=message),
        ),
    )
    invite = invite_for(SETTINGS, outgoing)
    assert invite is not None
    return invite.ics


def without_controls(value: str) -> str:
    """What the writer keeps of a value: no control character, a line break as \\n."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))


@settings(max_examples=200, deadline=None)
@given(title=words, organizer=names, person=names, message=words)
def test_any_text_reads_back_exactly_and_stays_one_property(
    title: str, organizer: str, person: str, message: str
) -> None:
    written = invite_text(title, organizer, person, message)

    assert written.endswith("\r\n")
    physical = written[:-2].split("\r\n")
    assert all(len(one.encode()) <= ical.LINE_OCTETS for one in physical)
    # A line either starts a property or continues the one before with a space; unfolded,
    # there are as many properties as were written, whatever the values held.
    properties = [one.split(":", 1)[0].split(";", 1)[0] for one in physical if one[:1] != " "]
    assert properties == [
        *["BEGIN", "VERSION", "PRODID", "CALSCALE", "METHOD", "BEGIN", "UID", "DTSTAMP"],
        *["SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "URL", "LOCATION"],
        *["STATUS", "TRANSP", "ORGANIZER", "ATTENDEE", "END", "END"],
    ]
    [event] = Calendar.from_ical(written).walk("VEVENT")
    assert str(event["SUMMARY"]) == without_controls(title)
    assert str(event["DESCRIPTION"]) == without_controls(message)
    organizer_param = event["ORGANIZER"].params["CN"]
    attendee_param = event["ATTENDEE"].params["CN"]
    # Parameters cannot hold a tab or a line break other than as ^n (RFC 6868).
    assert organizer_param == without_controls(organizer or "Lingkar")
    assert attendee_param == without_controls(person)
    assert event["ATTENDEE"] == "mailto:siti@sekolah.example"
    assert event.decoded("DTSTART") == datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    assert event.decoded("SEQUENCE") == 3
    assert str(event["LOCATION"]) == "https://api.sekolah.example/j/abc,def;ghi"


def test_a_long_line_of_wide_characters_folds_between_characters() -> None:
    value = ical.text("漢" * 60)  # three octets each
    folded = ical.line("SUMMARY", value)
    lines = folded.split("\r\n")
    assert len(lines) == 3  # 22, 24 and 14 characters: 74, 73 and 43 octets
    assert all(len(one.encode()) <= 75 for one in lines)
    assert "".join(one[1:] if i else one for i, one in enumerate(lines)) == f"SUMMARY:{value}"


def test_values_are_escaped_as_rfc_5545_and_6868_say() -> None:
    assert ical.text("a\\b;c,d\r\ne\nf\rg") == "a\\\\b\\;c\\,d\\ne\\nf\\ng"
    assert ical.param("Bu Rina") == "Bu Rina"
    assert ical.param('Bu "Rina", S.Pd') == "\"Bu ^'Rina^', S.Pd\""
    assert ical.param("a^b\nc") == "a^^b^nc"
    assert ical.uri("mailto:a@b.example\r\nX-INJECTED:1") == "mailto:a@b.exampleX-INJECTED:1"
    assert ical.date_time(datetime(2026, 12, 10, 9, 0, tzinfo=UTC)) == "20261210T090000Z"
