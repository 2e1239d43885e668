"""The consent text: versioned data in Indonesian and English, and exactly what a signer sees.

A version is a set of wordings (Lingkar's default, or a school's own); a version once used is
never edited (a school's change is a new version). The text a signer is shown is rendered from
the version with the session's details (platform, fallback, what is kept and for how long, how to
withdraw, whom to call in an emergency), and its SHA-256 is what the consent record keeps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_VERSION = "lingkar-1"
# Until issue 4's texts are chosen per school, every gate reads this version.
CURRENT_TEXT_VERSION = DEFAULT_VERSION

STUDENT_ITEMS = (
    "service_and_method",
    "benefits_and_limits",
    "confidentiality",
    "voluntary",
    "technology_failure",
    "alternatives",
    "no_recording",
    "data_protection",
    "emergency_contact",
)
GUARDIAN_ITEMS = (*STUDENT_ITEMS, "guardian_informed")

PLATFORM_NAMES = {"zoom": "Zoom", "google_meet": "Google Meet", "jitsi": "Jitsi Meet"}

# {placeholders} are filled from the session and the school; see `Context`.
DEFAULT_WORDING: dict[str, dict[str, Any]] = {
    "id": {
        "title": "Persetujuan mengikuti bimbingan kelompok online",
        "intro_student": (
            'Halo {student_name}. Kamu diajak ikut sesi bimbingan kelompok "{session_title}" '
            "bersama {counselor_name} dari {school_name}. Sebelum ikut, bacalah hal-hal di bawah "
            "ini. Centang setiap bagian jika kamu sudah memahaminya."
        ),
        "intro_guardian": (
            "Yth. Bapak/Ibu wali dari {student_name}. Anak Anda diajak ikut sesi bimbingan "
            'kelompok "{session_title}" bersama {counselor_name} dari {school_name}. Karena '
            "anak Anda belum berusia {guardian_age} tahun, kami memerlukan persetujuan Anda. "
            "Mohon baca hal-hal di bawah ini dan centang setiap bagian."
        ),
        "items": {
            "service_and_method": (
                "Layanan dan caranya",
                "Bimbingan kelompok adalah kegiatan bersama 2 sampai {max_members} siswa yang "
                "dipimpin guru BK untuk membahas satu topik. Sesi ini berlangsung online melalui "
                "{platform}{fallback_clause}.",
            ),
            "benefits_and_limits": (
                "Manfaat dan batasannya",
                "Sesi online bisa diikuti dari rumah dan menghemat waktu. Batasannya: suasana "
                "tidak sama dengan tatap muka, dan guru BK tidak selalu bisa melihat bahasa tubuh "
                "setiap peserta.",
            ),
            "confidentiality": (
                "Kerahasiaan",
                "Guru BK menjaga kerahasiaan data dan cerita peserta. Setiap peserta berjanji "
                "tidak menceritakan apa yang dibicarakan di kelompok kepada orang lain. "
                "Kerahasiaan di kelompok tidak dapat dijamin sepenuhnya (orang lain di rumah "
                "bisa mendengar), jadi ikutlah dari tempat yang tenang dan pribadi. Jika ada "
                "bahaya bagi diri peserta atau orang lain, guru BK wajib menyampaikannya "
                "kepada pihak yang perlu tahu.",
            ),
            "voluntary": (
                "Sukarela",
                "Ikut sesi ini sukarela. Persetujuan bisa ditarik kapan saja tanpa akibat apa pun, "
                "dengan satu klik pada tautan yang sama ini. {withdraw_how}",
            ),
            "technology_failure": (
                "Jika teknologi bermasalah",
                "Koneksi atau aplikasi bisa gagal. Jika itu terjadi, sesi {fallback_action}, atau "
                "dijadwalkan ulang; guru BK akan menghubungi peserta.",
            ),
            "alternatives": (
                "Pilihan lain",
                "Bimbingan tatap muka di sekolah tetap tersedia. Tanyakan kepada guru BK.",
            ),
            "no_recording": (
                "Tidak direkam",
                "Sesi tidak direkam, kecuali ada persetujuan terpisah untuk itu.",
            ),
            "data_protection": (
                "Perlindungan data",
                "Data yang disimpan: nama, kontak, catatan persetujuan, serta hasil pengamatan dan "
                "evaluasi sesi. Data disimpan {retention} dan dilindungi sesuai UU No. 27 Tahun "
                "2022 tentang Pelindungan Data Pribadi. Kamu boleh meminta melihat data yang "
                "disimpan tentang dirimu.",
            ),
            "emergency_contact": (
                "Dalam keadaan darurat",
                "Jika ada keadaan darurat dan guru BK tidak bisa dihubungi: {emergency_contact}",
            ),
            "guardian_informed": (
                "Pendampingan orang tua/wali",
                "Saya, orang tua/wali, telah diberi tahu tentang sesi ini dan menyetujui anak saya "
                "mengikutinya.",
            ),
        },
    },
    "en": {
        "title": "Consent to take part in online group guidance",
        "intro_student": (
            "Hello {student_name}. You are invited to the group guidance session "
            '"{session_title}" with {counselor_name} of {school_name}. Before you join, read '
            "the points below. Tick each part once you understand it."
        ),
        "intro_guardian": (
            "Dear parent or guardian of {student_name}. Your child is invited to the group "
            'guidance session "{session_title}" with {counselor_name} of {school_name}. As your '
            "child is under {guardian_age}, we need your consent. Please read the points below "
            "and tick each part."
        ),
        "items": {
            "service_and_method": (
                "The service and how it works",
                "Group guidance is a meeting of 2 to {max_members} students, led by a school "
                "counselor, about one topic. This session takes place online on "
                "{platform}{fallback_clause}.",
            ),
            "benefits_and_limits": (
                "Benefits and limits",
                "Online sessions can be joined from home and save time. The limits: it is not "
                "the same as meeting in person, and the counselor cannot always see everyone's "
                "body language.",
            ),
            "confidentiality": (
                "Confidentiality",
                "The counselor keeps members' data and stories confidential. Every member "
                "promises not to tell others what is said in the group. Confidentiality in a "
                "group cannot be fully guaranteed (others at home may overhear), so join from a "
                "quiet, private place. If someone is at risk of harm, the counselor must tell "
                "those who need to know.",
            ),
            "voluntary": (
                "Voluntary",
                "Taking part is voluntary. Consent can be withdrawn at any time, with no "
                "penalty, with one click on this same link. {withdraw_how}",
            ),
            "technology_failure": (
                "If technology fails",
                "The connection or the app may fail. If so, the session {fallback_action}, or is "
                "rescheduled; the counselor will contact the members.",
            ),
            "alternatives": (
                "Alternatives",
                "Face-to-face guidance at school remains available. Ask the counselor.",
            ),
            "no_recording": (
                "No recording",
                "The session is not recorded, unless separately agreed.",
            ),
            "data_protection": (
                "Data protection",
                "What is kept: names, contact details, consent records, and the session's "
                "observations and evaluations. It is kept {retention} and protected under "
                "Indonesia's Personal Data Protection Law (UU No. 27/2022). You may ask to see "
                "what is kept about you.",
            ),
            "emergency_contact": (
                "In an emergency",
                "If there is an emergency and the counselor cannot be reached: {emergency_contact}",
            ),
            "guardian_informed": (
                "Parent or guardian",
                "I, the parent or guardian, have been told about this session and agree that my "
                "child takes part.",
            ),
        },
    },
}

FALLBACK = {
    "id": {
        "clause": " (cadangan: {fallback})",
        "action": "pindah ke {fallback}",
        "none_action": "dilanjutkan lewat telepon",
    },
    "en": {
        "clause": " (fallback: {fallback})",
        "action": "moves to {fallback}",
        "none_action": "continues by phone",
    },
}


@dataclass(frozen=True)
class Context:
    """The session's details the text names."""

    session_title: str
    platform: str
    fallback_platform: str | None
    school_name: str
    counselor_name: str
    student_name: str
    max_members: int
    guardian_age: int
    retention: dict[str, str]
    emergency_contact: dict[str, str]
    withdraw_how: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShownText:
    version: str
    locale: str
    title: str
    intro: str
    items: list[tuple[str, str, str]]  # (code, heading, body)

    def canonical(self) -> str:
        """The exact text, as one string: what the hash is taken over."""
        parts = [self.title, self.intro]
        parts += [f"{heading}\n{body}" for _, heading, body in self.items]
        return "\n\n".join(parts)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @property
    def item_codes(self) -> list[str]:
        return [code for code, _, _ in self.items]


def render(
    *, version: str, wording: dict[str, Any], locale: str, guardian: bool, context: Context
) -> ShownText:
    locale = "en" if locale == "en" else "id"
    words = wording[locale]
    fallback = FALLBACK[locale]
    fallback_name = PLATFORM_NAMES.get(context.fallback_platform or "", "")
    values = {
        "session_title": context.session_title,
        "platform": PLATFORM_NAMES.get(context.platform, context.platform),
        "fallback_clause": fallback["clause"].format(fallback=fallback_name)
        if fallback_name
        else "",
        "fallback_action": fallback["action"].format(fallback=fallback_name)
        if fallback_name
        else fallback["none_action"],
        "school_name": context.school_name,
        "counselor_name": context.counselor_name,
        "student_name": context.student_name,
        "max_members": context.max_members,
        "guardian_age": context.guardian_age,
        "retention": context.retention[locale],
        "emergency_contact": context.emergency_contact[locale],
        "withdraw_how": context.withdraw_how.get(locale, ""),
    }
    codes = GUARDIAN_ITEMS if guardian else STUDENT_ITEMS
    items = [
        (code, words["items"][code][0], words["items"][code][1].format(**values).strip())
        for code in codes
    ]
    intro = words["intro_guardian" if guardian else "intro_student"].format(**values)
    return ShownText(version=version, locale=locale, title=words["title"], intro=intro, items=items)
