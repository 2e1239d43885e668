"""What each event says, in Indonesian (the default) and English, in the reader's time zone.

Every value that came from a person (names, titles) is escaped in the HTML part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # The event's link and its button's label ("" when it has none), for channels with buttons.
    link: str = ""
    button: str = ""
    # The plain values the texts were filled with, for channels that fill their own (WhatsApp).
    values: dict[str, str] = field(default_factory=dict)


def local_time(iso: str, timezone: str, locale: str) -> str:
    """'1 Desember 2026, 09.00 WIB' / '1 December 2026, 09:00 WIB'."""
    zone = ZoneInfo(timezone)
    when = datetime.fromisoformat(iso).astimezone(zone)
    label = ZONE_ABBREVIATIONS.get(timezone) or when.strftime("%Z") or timezone
    month = MONTHS["en" if locale == "en" else "id"][when.month - 1]
    clock = when.strftime("%H.%M" if locale != "en" else "%H:%M")
    return f"{when.day} {month} {when.year}, {clock} {label}"


SIGNATURE = "\n\n— Lingkar"

# Per event and language: subject, body and the label of the button to the event's link.
# Placeholders are filled by `_values`; every value a person typed is escaped in the HTML.
TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "meeting_provisioned_host": {
        "id": {
            "subject": "Tautan pertemuan: {title}",
            "body": 'Halo {name},\n\nPertemuan untuk sesi bimbingan kelompok "{title}" sudah '
            "siap.\n\nWaktu: {when} ({minutes} menit)\nPlatform: {provider}{moved_line}\n"
            "Tautan Anda sebagai pemimpin kelompok: {link}\n{passcode_line}\n"
            "Tautan ini hanya untuk Anda; anggota kelompok menerima tautan masing-masing "
            "setelah persetujuan mereka tercatat.{members_line}",
            "button": "Buka pertemuan",
        },
        "en": {
            "subject": "Meeting link: {title}",
            "body": "Hello {name},\n\n"
            'The meeting for the group guidance session "{title}" is ready.\n\n'
            "Time: {when} ({minutes} minutes)\nPlatform: {provider}{moved_line}\n"
            "Your link as group leader: {link}\n{passcode_line}\n"
            "This link is for you only; members receive their own links once their consent "
            "is recorded.{members_line}",
            "button": "Open the meeting",
        },
    },
    "consent_requested": {
        "id": {
            "subject": "Mohon persetujuan: {title}",
            "body": 'Halo {name},\n\n{consent_ask}\n\nSesi: "{title}", {when}, lewat '
            "{provider}.\nBaca penjelasannya dan beri keputusan di: {link}\n"
            "Tautan ini berlaku sampai {expires}. Persetujuan bisa ditarik kapan saja dari tautan "
            "yang sama.",
            "button": "Baca dan putuskan",
        },
        "en": {
            "subject": "Your consent, please: {title}",
            "body": 'Hello {name},\n\n{consent_ask}\n\nSession: "{title}", {when}, on '
            "{provider}.\nRead what it means and decide here: {link}\n"
            "The link works until {expires}. Consent can be withdrawn at any time from the same "
            "link.",
            "button": "Read and decide",
        },
    },
    "meeting_provisioned_member": {
        "id": {
            "subject": "Tautan Anda untuk sesi {title}",
            "body": 'Halo {name},\n\nAnda terdaftar di sesi bimbingan kelompok "{title}".\n\n'
            "Waktu: {when} ({minutes} menit)\nPlatform: {provider}\n"
            "Tautan khusus untuk Anda: {link}\n\n"
            "Jangan bagikan tautan ini. Ikuti dari tempat yang tenang dan pribadi. Tautan dapat "
            "dibuka 15 menit sebelum sesi dimulai. Jika Anda menarik persetujuan, tautan ini "
            "langsung berhenti berfungsi.",
            "button": "Gabung ke sesi",
        },
        "en": {
            "subject": "Your link for the session {title}",
            "body": 'Hello {name},\n\nYou are in the group guidance session "{title}".\n\n'
            "Time: {when} ({minutes} minutes)\nPlatform: {provider}\n"
            "Your own link: {link}\n\n"
            "Do not share this link. Join from a quiet, private place. The link opens 15 "
            "minutes before the start. If you withdraw your consent, it stops working at once.",
            "button": "Join the session",
        },
    },
    "consent_withdrawn": {
        "id": {
            "subject": "Persetujuan ditarik: {title}",
            "body": 'Halo {name},\n\n{student_name} menarik persetujuannya untuk sesi "{title}" '
            "({when}). Tautannya sudah tidak berlaku.{blocked_line}",
        },
        "en": {
            "subject": "Consent withdrawn: {title}",
            "body": "Hello {name},\n\n{student_name} withdrew their consent for the session "
            '"{title}" ({when}). Their link no longer works.{blocked_line}',
        },
    },
    "session_rescheduled": {
        "id": {
            "subject": "Jadwal baru: {title}",
            "body": 'Halo {name},\n\nSesi "{title}" dipindahkan ke {when} ({minutes} menit).'
            "{link_line}",
            "button": "Buka tautan",
        },
        "en": {
            "subject": "New time: {title}",
            "body": 'Hello {name},\n\nThe session "{title}" moved to {when} ({minutes} minutes).'
            "{link_line}",
            "button": "Open the link",
        },
    },
    "session_cancelled": {
        "id": {
            "subject": "Dibatalkan: {title}",
            "body": 'Halo {name},\n\nSesi "{title}" pada {when} dibatalkan.\nAlasan: {reason}\n'
            "Tautan pertemuan sudah tidak berlaku.",
        },
        "en": {
            "subject": "Cancelled: {title}",
            "body": 'Hello {name},\n\nThe session "{title}" on {when} is cancelled.\n'
            "Reason: {reason}\nThe meeting link no longer works.",
        },
    },
    "contact_unreachable": {
        "id": {
            "subject": "Tidak bisa dihubungi: {person_name}",
            "body": "Halo {name},\n\nLingkar tidak bisa menghubungi {person_name} lewat {channel} "
            'tentang sesi "{title}" ({when}); alamat itu tidak akan dicoba lagi.{fallback_line}\n'
            "Mohon periksa kontaknya di Lingkar, atau sampaikan langsung.",
        },
        "en": {
            "subject": "Cannot be reached: {person_name}",
            "body": "Hello {name},\n\nLingkar cannot reach {person_name} on {channel} about the "
            'session "{title}" ({when}); that address will not be tried again.{fallback_line}\n'
            "Please check their contact details in Lingkar, or tell them yourself.",
        },
    },
    "session_reminder": {
        "id": {
            "subject": "Pengingat: {title} dimulai {lead}",
            "body": 'Halo {name},\n\nSesi bimbingan kelompok "{title}" dimulai {lead}.\n\n'
            "Waktu: {when} ({minutes} menit)\nPlatform: {provider}{link_line}",
            "button": "Buka tautan",
        },
        "en": {
            "subject": "Reminder: {title} starts {lead}",
            "body": 'Hello {name},\n\nThe group guidance session "{title}" starts {lead}.\n\n'
            "Time: {when} ({minutes} minutes)\nPlatform: {provider}{link_line}",
            "button": "Open the link",
        },
    },
    "follow_up_due": {
        "id": {
            "subject": "Evaluasi tindak lanjut: {title}",
            "body": "Halo {name},\n\nSaatnya evaluasi tindak lanjut {follow_up} untuk sesi "
            '"{title}" ({when}).\nAnggota: {members}',
        },
        "en": {
            "subject": "Follow-up evaluation: {title}",
            "body": "Hello {name},\n\nIt is time for the {follow_up} follow-up evaluation of "
            'the session "{title}" ({when}).\nMembers: {members}',
        },
    },
}
WORDS = {
    "id": {
        "passcode": "Kode sandi: {0}",
        "moved": " ({0} tidak dapat dihubungi, jadi pertemuan dipindahkan ke platform cadangan "
        "yang disetujui semua anggota)",
        "members": "\nAnggota yang sudah siap: {0}",
        "blocked": "\n\nSesi kini terhambat karena: {0}",
        "link": "\nTautan: {0}",
        "24h": "dalam 24 jam",
        "15m": "dalam 15 menit",
        "short_term": "jangka pendek",
        "long_term": "jangka panjang",
        "none": "-",
        "ask_student": "Sebelum ikut sesi bimbingan kelompok online, kami memerlukan "
        "persetujuanmu.",
        "fallback": "\nPesannya dikirim lewat {0}.",
        "no_fallback": "\nTidak ada saluran lain untuknya: pesannya belum sampai.",
        "ask_guardian": "{student} diajak ikut sesi bimbingan kelompok online. Karena masih di "
        "bawah umur, kami memerlukan persetujuan Bapak/Ibu sebagai wali.",
    },
    "en": {
        "passcode": "Passcode: {0}",
        "moved": " ({0} could not be reached, so the meeting moved to the fallback platform "
        "every member agreed to)",
        "members": "\nMembers ready: {0}",
        "blocked": "\n\nThe session is now blocked: {0}",
        "link": "\nLink: {0}",
        "24h": "in 24 hours",
        "15m": "in 15 minutes",
        "short_term": "short-term",
        "long_term": "long-term",
        "none": "-",
        "ask_student": "Before you join an online group guidance session, we need your consent.",
        "fallback": "\nThe message went by {0} instead.",
        "no_fallback": "\nThere is no other channel for them: the message has not arrived.",
        "ask_guardian": "{student} is invited to an online group guidance session. As they are a "
        "minor, we need your consent as their parent or guardian.",
    },
}
PROVIDER_NAMES = {"jitsi": "Jitsi Meet", "zoom": "Zoom", "google_meet": "Google Meet"}
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "email": "email"}


def _channel(data: dict[str, Any], key: str) -> str:
    return CHANNEL_NAMES.get(str(data.get(key)), str(data.get(key) or ""))


def _provider_name(provider: Any) -> str:
    return PROVIDER_NAMES.get(str(provider), str(provider))


def _values(data: dict[str, Any], *, name: str, locale: str, timezone: str) -> dict[str, str]:
    words = WORDS[locale]
    link = data.get("join_url") or data.get("host_url") or data.get("consent_url") or ""
    ask = words["ask_guardian" if data.get("signer") == "guardian" else "ask_student"]
    members = ", ".join(data.get("members") or data.get("cleared_members") or [])
    unmet = "; ".join(data.get("unmet") or [])
    return {
        "name": name,
        "title": str(data.get("session_title", "")),
        "when": local_time(data["scheduled_start"], timezone, locale)
        if data.get("scheduled_start")
        else words["none"],
        "minutes": str(data.get("duration_minutes", "")),
        "provider": _provider_name(data.get("provider")),
        "moved_line": words["moved"].format(_provider_name(data["moved_from"]))
        if data.get("moved_from")
        else "",
        "link": link,
        "passcode_line": words["passcode"].format(data["passcode"]) if data.get("passcode") else "",
        "members_line": words["members"].format(members) if data.get("cleared_members") else "",
        "members": members or words["none"],
        "student_name": str(data.get("student_name", "")),
        "blocked_line": words["blocked"].format(unmet) if data.get("blocked") else "",
        "link_line": words["link"].format(link) if link else "",
        "reason": str(data.get("reason") or words["none"]),
        "follow_up": words.get(str(data.get("follow_up")), str(data.get("follow_up", ""))),
        "lead": words.get(str(data.get("reminder")), ""),
        "consent_ask": ask.format(student=data.get("student_name", "")),
        "expires": local_time(data["expires_at"], timezone, locale)
        if data.get("expires_at")
        else words["none"],
        "person_name": str(data.get("person_name", "")),
        "channel": _channel(data, "channel"),
        "fallback_line": words["fallback"].format(_channel(data, "fallback_channel"))
        if data.get("fallback_channel")
        else words["no_fallback"],
    }


def render(event: str, data: dict[str, Any], *, name: str, locale: str, timezone: str) -> Rendered:
    """The message for one reader; `KeyError`/`ValueError` when the event or its data is wrong."""
    locale = "en" if locale == "en" else "id"
    words = TEXTS[event][locale]
    values = _values(data, name=name, locale=locale, timezone=timezone)
    text = words["body"].format(**values) + SIGNATURE
    safe = {k: escape(v) for k, v in values.items()}
    paragraphs = "".join(
        f"<p>{part}</p>" for part in (words["body"].format(**safe) + SIGNATURE).split("\n\n")
    ).replace("\n", "<br>")
    button = ""
    if values["link"] and "button" in words:
        button = f'<p><a href="{safe["link"]}">{escape(words["button"])}</a></p>'
    html = f'<!doctype html><html lang="{locale}"><body>{paragraphs}{button}</body></html>'
    return Rendered(
        subject=words["subject"].format(**values),
        text=text,
        html=html,
        link=values["link"],
        button=words.get("button", ""),
        values=values,
    )
