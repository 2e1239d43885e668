"""Templates: the reader's language, the reader's clock, and no markup from people in HTML."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifications.notifications.templates import local_time, render

START = "2026-12-01T01:00:00+00:00"


@pytest.mark.parametrize(
    ("zone", "indonesian", "english"),
    [
        ("Asia/Jakarta", "1 Desember 2026, 08.00 WIB", "1 December 2026, 08:00 WIB"),
        ("Asia/Pontianak", "1 Desember 2026, 08.00 WIB", "1 December 2026, 08:00 WIB"),
        ("Asia/Makassar", "1 Desember 2026, 09.00 WITA", "1 December 2026, 09:00 WITA"),
        ("Asia/Jayapura", "1 Desember 2026, 10.00 WIT", "1 December 2026, 10:00 WIT"),
    ],
)
def test_local_time_in_the_three_indonesian_zones(zone: str, indonesian: str, english: str) -> None:
    assert local_time(START, zone, "id") == indonesian
    assert local_time(START, zone, "en") == english


def test_local_time_crosses_midnight_and_the_year_in_the_readers_zone() -> None:
    assert local_time("2026-12-31T20:30:00Z", "Asia/Jayapura", "id") == "1 Januari 2027, 05.30 WIT"
    assert local_time("2026-12-31T20:30:00Z", "Asia/Jakarta", "id") == "1 Januari 2027, 03.30 WIB"


def test_local_time_elsewhere_shows_the_zones_own_abbreviation() -> None:
    assert local_time(START, "Europe/Amsterdam", "en") == "1 December 2026, 02:00 CET"
    assert local_time("2026-07-01T01:00:00Z", "Europe/Amsterdam", "en") == "1 July 2026, 03:00 CEST"
    assert local_time(START, "UTC", "id") == "1 Desember 2026, 01.00 UTC"


def test_local_time_accepts_an_offset_other_than_utc() -> None:
    assert local_time("2026-12-01T08:00:00+07:00", "Asia/Makassar", "id") == (
        "1 Desember 2026, 09.00 WITA"
    )


def data(**overrides: Any) -> dict[str, Any]:
    return {
        "session_title": "Mengelola stres menjelang ujian",
        "scheduled_start": START,
        "duration_minutes": 45,
        "provider": "jitsi",
        "host_url": "https://jitsi.example.sch.id/LingkarROOM",
        "passcode": None,
        "cleared_members": [],
        **overrides,
    }


def test_render_in_indonesian() -> None:
    out = render(
        "meeting_provisioned_host", data(), name="Bu Rina", locale="id", timezone="Asia/Makassar"
    )

    assert out.subject == "Tautan pertemuan: Mengelola stres menjelang ujian"
    assert out.text.startswith("Halo Bu Rina,")
    assert "Waktu: 1 Desember 2026, 09.00 WITA (45 menit)" in out.text
    assert "Platform: Jitsi Meet" in out.text
    assert "https://jitsi.example.sch.id/LingkarROOM" in out.text
    assert "Kode sandi" not in out.text
    assert '<html lang="id">' in out.html
    assert 'href="https://jitsi.example.sch.id/LingkarROOM"' in out.html
    assert "Buka pertemuan" in out.html


def test_render_in_english_with_a_passcode() -> None:
    out = render(
        "meeting_provisioned_host",
        data(provider="zoom", passcode="739154", host_url="https://zoom.example/s/1?pwd=a&b=c"),
        name="Mr Yosef",
        locale="en",
        timezone="Asia/Jayapura",
    )

    assert out.subject == "Meeting link: Mengelola stres menjelang ujian"
    assert out.text.startswith("Hello Mr Yosef,")
    assert "Time: 1 December 2026, 10:00 WIT (45 minutes)" in out.text
    assert "Platform: Zoom" in out.text
    assert "Passcode: 739154" in out.text
    assert "https://zoom.example/s/1?pwd=a&b=c" in out.text
    assert 'href="https://zoom.example/s/1?pwd=a&amp;b=c"' in out.html
    assert "Open the meeting" in out.html
    assert "Halo" not in out.text


def test_render_escapes_what_people_typed_in_the_html_only() -> None:
    title = '<script>alert("x")</script> & <b>ujian</b>'
    out = render(
        "meeting_provisioned_host",
        data(session_title=title),
        name='Rina "<img src=x onerror=alert(1)>"',
        locale="id",
        timezone="Asia/Jakarta",
    )

    assert "<script>" not in out.html
    assert "<img" not in out.html
    assert "<b>ujian</b>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "&amp; &lt;b&gt;ujian&lt;/b&gt;" in out.html
    assert title in out.text
    assert title in out.subject


def test_an_unknown_locale_falls_back_to_indonesian() -> None:
    out = render(
        "meeting_provisioned_host", data(), name="Rina", locale="jv", timezone="Asia/Jakarta"
    )

    assert out.subject.startswith("Tautan pertemuan")
    assert "1 Desember 2026, 08.00 WIB" in out.text


# Every event the api sends has a template in both languages, with its link where it has one.
EVENT_DATA: dict[str, dict[str, Any]] = {
    "meeting_provisioned_member": {"join_url": "https://lk.example/j/abc"},
    "consent_withdrawn": {
        "student_name": "Andi",
        "blocked": True,
        "unmet": ["2 dari 3 anggota siap"],
    },
    "session_rescheduled": {"join_url": "https://lk.example/j/abc"},
    "session_cancelled": {"reason": "Libur <sekolah>"},
    "follow_up_due": {"follow_up": "short_term", "members": ["Andi", "Budi"]},
}
BASE: dict[str, Any] = {
    "session_title": "Memilih jurusan",
    "scheduled_start": "2026-12-01T02:00:00+00:00",
    "duration_minutes": 60,
    "provider": "jitsi",
}


@pytest.mark.parametrize("event", sorted(EVENT_DATA))
@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_event_renders_in_both_languages(event: str, locale: str) -> None:
    from services.notifications.notifications.templates import render as render_event

    data = {**BASE, **EVENT_DATA[event]}
    message = render_event(event, data, name="Bu Sari", locale=locale, timezone="Asia/Jakarta")
    assert "Memilih jurusan" in message.subject
    assert "Bu Sari" in message.text
    clock = "09.00 WIB" if locale == "id" else "09:00 WIB"
    assert clock in message.text
    if "join_url" in data:
        assert data["join_url"] in message.text and data["join_url"] in message.html
    assert "<sekolah>" not in message.html


def test_a_withdrawal_that_blocks_says_what_is_unmet() -> None:
    from services.notifications.notifications.templates import render as render_event

    message = render_event(
        "consent_withdrawn",
        {**BASE, **EVENT_DATA["consent_withdrawn"]},
        name="Bu Sari",
        locale="id",
        timezone="Asia/Jakarta",
    )
    assert "Andi" in message.text and "terhambat" in message.text
    assert "2 dari 3 anggota siap" in message.text


@pytest.mark.parametrize(
    ("locale", "subject", "channel_words", "fallback_words"),
    [
        ("id", "Tidak bisa dihubungi: Dewi <X>", "lewat WhatsApp", "belum sampai"),
        ("en", "Cannot be reached: Dewi <X>", "on WhatsApp", "has not arrived"),
    ],
)
def test_the_counselor_hears_who_cannot_be_reached_on_which_channel(
    locale: str, subject: str, channel_words: str, fallback_words: str
) -> None:
    from services.notifications.notifications.templates import render as render_event

    data = {**BASE, "person_name": "Dewi <X>", "channel": "whatsapp", "fallback_channel": None}
    message = render_event(
        "contact_unreachable", data, name="Bu Sari", locale=locale, timezone="Asia/Jakarta"
    )

    assert message.subject == subject
    assert channel_words in message.text and fallback_words in message.text
    assert "Memilih jurusan" in message.text
    assert "Dewi &lt;X&gt;" in message.html and "<X>" not in message.html
