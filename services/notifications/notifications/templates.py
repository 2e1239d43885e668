"""What each event says, in Indonesian (the default) and English, in the reader's time zone.

Every value that came from a person (names, titles) is escaped in the HTML part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
MONTHS = {
    "id": [
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def local_time(iso: str, timezone: str, locale: str) -> str:
    """'1 Desember 2026, 09.00 WIB' / '1 December 2026, 09:00 WIB'."""
    zone = ZoneInfo(timezone)
    when = datetime.fromisoformat(iso).astimezone(zone)
    label = ZONE_ABBREVIATIONS.get(timezone) or when.strftime("%Z") or timezone
    month = MONTHS["en" if locale == "en" else "id"][when.month - 1]
    clock = when.strftime("%H.%M" if locale != "en" else "%H:%M")
    return f"{when.day} {month} {when.year}, {clock} {label}"


_HOST_TEXT = {
    "id": {
        "subject": "Tautan pertemuan: {title}",
        "body": 'Halo {name},\n\nPertemuan untuk sesi bimbingan kelompok "{title}" sudah siap.\n\n'
        "Waktu: {when} ({minutes} menit)\nPlatform: {provider}\n"
        "Tautan Anda sebagai pemimpin kelompok: {host_url}\n{passcode_line}\n"
        "Tautan ini hanya untuk Anda; anggota kelompok menerima tautan masing-masing "
        "setelah persetujuan mereka tercatat.\n\n— Lingkar",
        "passcode": "Kode sandi: {passcode}",
        "open": "Buka pertemuan",
    },
    "en": {
        "subject": "Meeting link: {title}",
        "body": "Hello {name},\n\n"
        'The meeting for the group guidance session "{title}" is ready.\n\n'
        "Time: {when} ({minutes} minutes)\nPlatform: {provider}\n"
        "Your link as group leader: {host_url}\n{passcode_line}\n"
        "This link is for you only; members receive their own links once their consent "
        "is recorded.\n\n— Lingkar",
        "passcode": "Passcode: {passcode}",
        "open": "Open the meeting",
    },
}
PROVIDER_NAMES = {"jitsi": "Jitsi Meet", "zoom": "Zoom", "google_meet": "Google Meet"}


def render(event: str, data: dict[str, Any], *, name: str, locale: str, timezone: str) -> Rendered:
    if event != "meeting_provisioned_host":
        raise ValueError(f"no template for event {event}")
    words = _HOST_TEXT["en" if locale == "en" else "id"]
    values = {
        "name": name,
        "title": data["session_title"],
        "when": local_time(data["scheduled_start"], timezone, locale),
        "minutes": data["duration_minutes"],
        "provider": PROVIDER_NAMES.get(data["provider"], data["provider"]),
        "host_url": data["host_url"],
        "passcode_line": words["passcode"].format(passcode=data["passcode"])
        if data.get("passcode")
        else "",
    }
    text = words["body"].format(**values)
    safe = {k: escape(str(v)) for k, v in values.items()}
    paragraphs = "".join(
        f"<p>{line}</p>" for line in words["body"].format(**safe).split("\n\n")
    ).replace("\n", "<br>")
    html = (
        f'<!doctype html><html lang="{escape(locale)}"><body>{paragraphs}'
        f'<p><a href="{safe["host_url"]}">{escape(words["open"])}</a></p></body></html>'
    )
    return Rendered(subject=words["subject"].format(title=values["title"]), text=text, html=html)
