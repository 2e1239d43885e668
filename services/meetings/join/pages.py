"""What a member sees when the join gate does not send them on: a page saying why, and what
to do, in Indonesian unless their browser prefers English. Times are in the session's zone."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.meetings.join.service import Decision, Outcome
from services.meetings.meetings.models import DEFAULT_TIMEZONE

LANGUAGES = ("id", "en")
_ALIASES = {"in": "id"}  # the old ISO 639 code for Indonesian, still sent by some phones

# Nothing about a join link is cached, indexed, or passed on as a referrer: it holds a token.
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
_PAGE_HEADERS = {
    **_PRIVATE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept-Language, User-Agent",  # a link preview's crawler gets a page of its own
}

_STATUS = {
    Outcome.preview: (200, "preview"),
    Outcome.unknown: (404, "unknown"),
    Outcome.revoked: (403, "consent"),
    Outcome.not_cleared: (403, "consent"),
    Outcome.too_early: (403, "too_early"),
    Outcome.ended: (410, "ended"),
    Outcome.cancelled: (410, "cancelled"),
    Outcome.unavailable: (503, "unavailable"),
    Outcome.provider_unavailable: (503, "provider"),
}

# page: language: (title, why, what to do)
_TEXT: dict[str, dict[str, tuple[str, str, str]]] = {
    # What a chat app shows under the link: nothing of the session, nor whose link it is.
    "preview": {
        "id": (
            "Tautan pribadi Lingkar",
            "Tautan ini untuk satu peserta sesi bimbingan kelompok dan tidak untuk dibagikan.",
            "Buka tautan ini di peramban Anda untuk bergabung.",
        ),
        "en": (
            "A personal Lingkar link",
            "This link is for one member of a group guidance session and is not to be shared.",
            "Open this link in your browser to join.",
        ),
    },
    "unknown": {
        "id": (
            "Tautan tidak dikenali",
            "Tautan ini tidak kami kenali. Mungkin tautannya terpotong saat disalin.",
            "Buka tautan lengkap dari pesan yang Anda terima, atau minta tautan baru kepada "
            "guru BK Anda.",
        ),
        "en": (
            "Link not recognised",
            "We do not recognise this link. It may have been cut short when it was copied.",
            "Open the whole link from the message you received, or ask your counselor for a "
            "new one.",
        ),
    },
    "consent": {
        "id": (
            "Persetujuan Anda tidak aktif",
            "Anda tidak dapat masuk ke sesi ini karena persetujuan (informed consent) Anda "
            "tidak aktif: persetujuan itu telah ditarik atau belum lengkap.",
            "Hubungi guru BK Anda. Jika Anda ingin ikut, guru BK akan membantu melengkapi "
            "persetujuan, lalu Anda menerima tautan baru.",
        ),
        "en": (
            "Your consent is not active",
            "You cannot join this session because your consent is not active: it was "
            "withdrawn, or it is not complete yet.",
            "Contact your counselor. If you want to take part, they will help you complete "
            "your consent, and you will receive a new link.",
        ),
    },
    "too_early": {
        "id": (
            "Sesi belum dibuka",
            "Ruang pertemuan dibuka pada {opens}, 15 menit sebelum sesi dimulai.",
            "Buka kembali tautan ini pada waktu tersebut.",
        ),
        "en": (
            "The session is not open yet",
            "The meeting room opens at {opens}, 15 minutes before the session starts.",
            "Open this link again at that time.",
        ),
    },
    "ended": {
        "id": (
            "Sesi telah berakhir",
            "Waktu sesi ini sudah lewat, jadi tautan ini tidak berlaku lagi.",
            "Jika Anda memerlukan tindak lanjut, hubungi guru BK Anda.",
        ),
        "en": (
            "The session has ended",
            "The time of this session has passed, so this link no longer works.",
            "If you need a follow-up, contact your counselor.",
        ),
    },
    "cancelled": {
        "id": (
            "Sesi dibatalkan",
            "Sesi ini dibatalkan, jadi tautan ini tidak berlaku lagi.",
            "Guru BK Anda akan memberi tahu jika ada jadwal baru.",
        ),
        "en": (
            "The session was cancelled",
            "This session was cancelled, so this link no longer works.",
            "Your counselor will let you know if there is a new time.",
        ),
    },
    "unavailable": {
        "id": (
            "Coba lagi sebentar",
            "Kami tidak dapat memeriksa izin masuk Anda saat ini.",
            "Buka tautan ini lagi dalam beberapa menit. Jika masih gagal, hubungi guru BK Anda.",
        ),
        "en": (
            "Please try again shortly",
            "We cannot check your admission right now.",
            "Open this link again in a few minutes. If it still fails, contact your counselor.",
        ),
    },
    "provider": {
        "id": (
            "Coba lagi sebentar",
            "Layanan rapat daring sedang tidak dapat memberikan tautan rapat.",
            "Buka tautan ini lagi dalam beberapa menit.",
        ),
        "en": (
            "Please try again shortly",
            "The online meeting service cannot give the meeting's link right now.",
            "Open this link again in a few minutes.",
        ),
    },
}

_DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
_ZONE_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}

_DOCUMENT = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title} · Lingkar</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 2rem 1rem; color: #1f2933; }}
main {{ max-width: 32rem; margin: 0 auto; }}
h1 {{ font-size: 1.4rem; }}
p {{ line-height: 1.5; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{why}</p>
<p>{what_to_do}</p>
</main>
</body>
</html>
"""


def preferred_language(accept_language: str | None) -> str:
    """The Accept-Language entry we can serve with the highest weight; Indonesian otherwise."""
    best, best_weight = "id", 0.0
    for entry in (accept_language or "").split(","):
        tag, *params = (part.strip() for part in entry.split(";"))
        language = tag.lower().split("-")[0]
        language = _ALIASES.get(language, language)
        weight = _weight(params)
        if language in LANGUAGES and weight > best_weight:
            best, best_weight = language, weight
    return best


def _weight(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def local_time(moment: datetime, timezone: str, language: str) -> str:
    """`Senin, 7 Desember 2026 pukul 08.45 WIB` / `Monday 7 December 2026 at 08:45 WIB`."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo(DEFAULT_TIMEZONE), DEFAULT_TIMEZONE
    local = moment.astimezone(zone)
    label = _ZONE_LABELS.get(timezone) or local.tzname() or timezone
    day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
    if language == "id":
        return f"{day}, {local.day} {month} {local.year} pukul {local:%H.%M} {label}"
    return f"{day} {local.day} {month} {local.year} at {local:%H:%M} {label}"


def answer(decision: Decision, *, accept_language: str | None) -> Response:
    """The redirect to the provider, or the page that says why not."""
    if decision.outcome is Outcome.admitted:
        assert decision.redirect_to is not None
        return RedirectResponse(decision.redirect_to, status_code=302, headers=_PRIVATE)
    # The member's own language when the link is theirs; else what the browser prefers.
    language = (
        decision.language if decision.language in LANGUAGES else preferred_language(accept_language)
    )
    status, page = _STATUS[decision.outcome]
    opens = ""
    if decision.opens_at is not None:
        opens = local_time(decision.opens_at, decision.timezone, language)
    title, why, what_to_do = (escape(text.format(opens=opens)) for text in _TEXT[page][language])
    headers = {**_PAGE_HEADERS, "Content-Language": language}
    if status == 503:
        headers["Retry-After"] = "60"
    html = _DOCUMENT.format(lang=language, title=title, why=why, what_to_do=what_to_do)
    return HTMLResponse(html, status_code=status, headers=headers)
