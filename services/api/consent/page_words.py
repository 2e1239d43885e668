"""The words around the consent text on the consent link's pages, in Indonesian and English.

The consent text itself (title, intro, items) comes from `texts.ShownText` and is shown as it
is; these are the labels, buttons and explanations around it. `{placeholders}` are filled with
the session's details before the page escapes them.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}

WORDS: dict[str, dict[str, str]] = {
    "id": {
        "session": "Sesi",
        "schedule": "Jadwal",
        "platform": "Platform",
        "fallback": "Platform cadangan",
        "no_fallback": "Tidak ada",
        "student": "Siswa",
        "signer_as": "Anda menjawab sebagai",
        "as_student": "Siswa (untuk diri sendiri)",
        "as_guardian": "Orang tua/wali",
        "link_until": "Tautan berlaku sampai",
        "step": "Bagian {n} dari {total}",
        "acknowledge": "Saya sudah membaca dan memahami: {heading}",
        "name_label": "Nama lengkap Anda",
        "name_hint": "Nama Anda dicatat sebagai tanda tangan keputusan ini.",
        "grant": "Saya setuju",
        "decline": "Saya tidak setuju",
        "buttons_note": "Untuk setuju, centang setiap bagian di atas. Untuk tidak setuju, cukup "
        "tulis nama Anda.",
        "text_version": "Versi teks: {version} · SHA-256: {sha256}",
        "errors_title": "Keputusan Anda belum tersimpan",
        "missing_item": "Centang bagian “{heading}”",
        "item_unticked": "Bagian ini belum dicentang.",
        "name_missing": "Tulis nama lengkap Anda",
        "name_invalid": "Nama terlalu panjang atau memuat karakter yang tidak diizinkan "
        "(paling banyak 200 huruf)",
        "decision_missing": "Pilih “Saya setuju” atau “Saya tidak setuju”",
        "unknown_items": "Formulir memuat bagian yang tidak ada di teks ini; muat ulang "
        "halaman dan coba lagi",
        "text_changed": "Teks persetujuan diperbarui setelah halaman ini dibuka. Bacalah lagi "
        "di bawah dan centang setiap bagian.",
        "recorded_now": "Keputusan Anda sudah tercatat",
        "recorded_before": "Keputusan dengan tautan ini",
        "granted_lead": "Terima kasih. Persetujuan untuk {student} sudah tercatat.",
        "declined_lead": "Keputusan tidak setuju untuk {student} sudah tercatat. {student} "
        "tidak akan menerima tautan pertemuan sesi ini. Jika Anda berubah pikiran, minta "
        "tautan baru kepada guru BK.",
        "withdrawn_lead": "Persetujuan ini sudah ditarik. Tautan pertemuan {student} tidak "
        "berlaku lagi. Jika ingin ikut lagi, minta tautan baru kepada guru BK.",
        "decision": "Keputusan",
        "granted": "Setuju",
        "declined": "Tidak setuju",
        "withdrawn": "Setuju, lalu ditarik",
        "decided_at": "Dicatat pada",
        "signed_by": "Ditandatangani oleh",
        "items_acknowledged": "Bagian yang dipahami",
        "no_items": "Tidak ada",
        "version": "Versi teks",
        "withdraw_title": "Cara menarik persetujuan",
        "withdraw_how": "Anda dapat menarik persetujuan ini kapan saja, tanpa akibat apa pun. "
        "Tautan yang sama ini bisa dipakai kapan saja untuk menariknya: buka lagi tautan dari "
        "pesan Anda, lalu tekan tombol “Tarik persetujuan”.",
        "withdraw_effect": "Setelah ditarik, tautan pertemuan {student} langsung tidak berlaku.",
        "withdraw_button": "Tarik persetujuan",
        "withdrawn_title": "Persetujuan sudah ditarik",
        "withdrawn_what": "Persetujuan untuk {student} pada sesi “{title}” sudah ditarik.",
        "withdrawn_effect": "Tautan pertemuan {student} tidak berlaku lagi, dan tidak ada "
        "pengingat lagi untuk sesi ini. Guru BK sudah diberi tahu.",
        "withdrawn_again": "Jika ingin ikut lagi nanti, minta tautan persetujuan baru kepada "
        "guru BK.",
        "nothing_title": "Tidak ada persetujuan untuk ditarik",
        "nothing_declined": "Dengan tautan ini tercatat keputusan tidak setuju, jadi tidak ada "
        "persetujuan yang perlu ditarik. {student} tidak menerima tautan pertemuan.",
        "nothing_withdrawn": "Persetujuan yang diberikan dengan tautan ini sudah ditarik "
        "sebelumnya. Tautan pertemuan {student} sudah tidak berlaku.",
        "nothing_undecided": "Belum ada keputusan dengan tautan ini, jadi belum ada yang bisa "
        "ditarik.",
        "see_decision": "Lihat keputusan yang tercatat",
        "back_to_form": "Buka formulir persetujuan",
    },
    "en": {
        "session": "Session",
        "schedule": "When",
        "platform": "Platform",
        "fallback": "Fallback platform",
        "no_fallback": "None",
        "student": "Student",
        "signer_as": "You answer as",
        "as_student": "The student (for yourself)",
        "as_guardian": "Parent or guardian",
        "link_until": "Link valid until",
        "step": "Part {n} of {total}",
        "acknowledge": "I have read and understand: {heading}",
        "name_label": "Your full name",
        "name_hint": "Your name is kept as the signature of this decision.",
        "grant": "I agree",
        "decline": "I do not agree",
        "buttons_note": "To agree, tick every part above. To decline, just write your name.",
        "text_version": "Text version: {version} · SHA-256: {sha256}",
        "errors_title": "Your decision is not saved yet",
        "missing_item": "Tick the part “{heading}”",
        "item_unticked": "This part is not ticked yet.",
        "name_missing": "Write your full name",
        "name_invalid": "The name is too long or holds characters that are not allowed "
        "(200 letters at most)",
        "decision_missing": "Choose “I agree” or “I do not agree”",
        "unknown_items": "The form holds parts that are not in this text; reload the page "
        "and try again",
        "text_changed": "The consent text was updated after this page was opened. Please read "
        "it again below and tick each part.",
        "recorded_now": "Your decision is recorded",
        "recorded_before": "The decision made with this link",
        "granted_lead": "Thank you. Consent for {student} is recorded.",
        "declined_lead": "Your decision not to agree, for {student}, is recorded. {student} "
        "will not receive a meeting link for this session. If you change your mind, ask the "
        "counselor for a new link.",
        "withdrawn_lead": "This consent was withdrawn. {student}'s meeting link no longer "
        "works. To take part again, ask the counselor for a new link.",
        "decision": "Decision",
        "granted": "Agreed",
        "declined": "Did not agree",
        "withdrawn": "Agreed, then withdrawn",
        "decided_at": "Recorded at",
        "signed_by": "Signed by",
        "items_acknowledged": "Parts acknowledged",
        "no_items": "None",
        "version": "Text version",
        "withdraw_title": "How to withdraw",
        "withdraw_how": "You can withdraw this consent at any time, with no penalty. This "
        "same link can be used at any time to withdraw it: open the link from your message "
        "again and press “Withdraw consent”.",
        "withdraw_effect": "Once withdrawn, {student}'s meeting link stops working at once.",
        "withdraw_button": "Withdraw consent",
        "withdrawn_title": "Consent withdrawn",
        "withdrawn_what": "Consent for {student} to the session “{title}” is withdrawn.",
        "withdrawn_effect": "{student}'s meeting link no longer works, and there will be no "
        "more reminders for this session. The counselor has been told.",
        "withdrawn_again": "To take part again later, ask the counselor for a new consent link.",
        "nothing_title": "There is no consent to withdraw",
        "nothing_declined": "The decision recorded with this link was not to agree, so there "
        "is no consent to withdraw. {student} does not receive a meeting link.",
        "nothing_withdrawn": "The consent given with this link was already withdrawn. "
        "{student}'s meeting link no longer works.",
        "nothing_undecided": "No decision has been made with this link yet, so there is "
        "nothing to withdraw.",
        "see_decision": "See the recorded decision",
        "back_to_form": "Open the consent form",
    },
}

RELATIONSHIPS = {
    "id": {
        "mother": "ibu",
        "father": "ayah",
        "parent": "orang tua",
        "grandparent": "kakek/nenek",
        "sibling": "saudara",
        "legal_guardian": "wali sah",
        "other": "wali",
    },
    "en": {
        "mother": "mother",
        "father": "father",
        "parent": "parent",
        "grandparent": "grandparent",
        "sibling": "sibling",
        "legal_guardian": "legal guardian",
        "other": "guardian",
    },
}

# Pages that say why a link does nothing: (title, why, what to do).
REFUSALS: dict[str, dict[str, tuple[str, str, str]]] = {
    "not_found": {
        "id": (
            "Tautan tidak dikenali",
            "Tautan persetujuan ini tidak kami kenali; mungkin terpotong atau berubah saat "
            "disalin. Tidak ada yang dicatat.",
            "Buka tautan lengkap dari pesan yang Anda terima, atau minta tautan baru kepada "
            "guru BK Anda.",
        ),
        "en": (
            "Link not recognised",
            "We do not recognise this consent link; it may have been cut short or changed "
            "when it was copied. Nothing was recorded.",
            "Open the whole link from the message you received, or ask your counselor for a "
            "new one.",
        ),
    },
    "answered": {
        "id": (
            "Tautan ini sudah dipakai",
            "Keputusan sudah tercatat dengan tautan ini; satu tautan hanya untuk satu "
            "keputusan. Keputusan yang baru ini tidak dicatat.",
            "Buka lagi tautan ini untuk melihat keputusan yang tercatat dan menariknya jika "
            "perlu. Untuk keputusan baru, minta tautan baru kepada guru BK Anda.",
        ),
        "en": (
            "This link was already used",
            "A decision is already recorded with this link; one link is for one decision. "
            "This new decision was not recorded.",
            "Open this link again to see the recorded decision, and to withdraw it if you "
            "wish. For a new decision, ask your counselor for a new link.",
        ),
    },
    "expired": {
        "id": (
            "Tautan ini sudah kedaluwarsa",
            "Batas waktu tautan persetujuan ini sudah lewat, jadi keputusan tidak bisa "
            "dicatat dengannya. Tidak ada yang dicatat.",
            "Minta tautan baru kepada guru BK Anda.",
        ),
        "en": (
            "This link has expired",
            "The time to use this consent link has passed, so no decision can be recorded "
            "with it. Nothing was recorded.",
            "Ask your counselor for a new link.",
        ),
    },
    "superseded": {
        "id": (
            "Tautan ini sudah diganti",
            "Ada tautan yang lebih baru untuk sesi ini, misalnya karena platform atau teks "
            "persetujuan berubah. Tidak ada yang dicatat dengan tautan lama ini.",
            "Pakai tautan terbaru dari pesan Anda, atau minta tautan baru kepada guru BK Anda.",
        ),
        "en": (
            "This link was replaced",
            "There is a newer link for this session, for instance because the platform or "
            "the consent text changed. Nothing was recorded with this old link.",
            "Use the newest link from your messages, or ask your counselor for a new one.",
        ),
    },
    "gone": {
        "id": (
            "Tautan ini tidak bisa dipakai lagi",
            "Keputusan tidak bisa dicatat dengan tautan ini lagi. Tidak ada yang dicatat.",
            "Minta tautan baru kepada guru BK Anda.",
        ),
        "en": (
            "This link can no longer be used",
            "No decision can be recorded with this link any more. Nothing was recorded.",
            "Ask your counselor for a new link.",
        ),
    },
    "withdraw_failed": {
        "id": (
            "Persetujuan belum bisa ditarik",
            "Kami tidak dapat menarik persetujuan ini lewat tautan sekarang. Tidak ada yang "
            "berubah.",
            "Hubungi guru BK Anda: guru BK dapat menariknya untuk Anda atas permintaan Anda.",
        ),
        "en": (
            "The consent could not be withdrawn yet",
            "We could not withdraw this consent through the link just now. Nothing changed.",
            "Contact your counselor: they can withdraw it for you at your request.",
        ),
    },
    "problem": {
        "id": (
            "Permintaan tidak dapat diproses",
            "Kami tidak dapat memproses permintaan ini sekarang. Tidak ada yang dicatat.",
            "Coba lagi nanti. Jika masih gagal, hubungi guru BK Anda.",
        ),
        "en": (
            "The request could not be completed",
            "We could not complete this request just now. Nothing was recorded.",
            "Please try again later. If it still fails, contact your counselor.",
        ),
    },
}

DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
ZONE_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
