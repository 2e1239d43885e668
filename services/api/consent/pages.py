"""The consent link's pages for a phone's browser: the form, the recorded decision, refusals.

Plain HTML with inline CSS and no script: a form that works without JavaScript, in the signer's
language (Indonesian unless chosen otherwise). The consent text is shown exactly as
`ShownText` holds it (title, intro, then each item's heading and body, in order), so the hash
kept in the record is the hash of what the person read. Every value is escaped on its way in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import HTMLResponse

from services.api.consent.page_words import (
    DAYS,
    LANGUAGE_NAMES,
    MONTHS,
    REFUSALS,
    RELATIONSHIPS,
    WORDS,
    ZONE_LABELS,
)
from services.api.consent.public import Opened
from services.api.consent.texts import PLATFORM_NAMES
from shared.timeutil import as_utc

DEFAULT_LANGUAGE = "id"

# The page holds the link's token: nothing of it is cached, indexed, framed or sent on as a
# referrer; it loads nothing from elsewhere and posts only to itself.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Vary": "Accept",
}

# Inline (the policy above allows no stylesheet from elsewhere); kept in its own file.
_CSS = (Path(__file__).parent / "pages.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Filled:
    """What the person entered, shown again beside what stopped it (`WORDS` keys)."""

    ticked: frozenset[str] = frozenset()
    signer_name: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)


def language_of(value: str | None) -> str:
    return value if value in LANGUAGE_NAMES else DEFAULT_LANGUAGE


def ask(
    opened: Opened, *, link: str, filled: Filled | None = None, status: int = 200
) -> HTMLResponse:
    """The form: the session, the text, each item with its own checkbox, the name, two buttons."""
    text, lang = opened.text, opened.text.locale
    words = WORDS[lang]
    filled = filled or Filled()
    missing = _missing(opened, filled)
    items = "\n".join(
        _item(code, heading, body, n, len(text.items), words, filled, code in missing)
        for n, (code, heading, body) in enumerate(text.items, start=1)
    )
    version = words["text_version"].format(version=text.version, sha256=text.sha256)
    body = f"""{_errors(opened, filled, missing, words)}
<h1>{_e(text.title)}</h1>
{_facts(_session_facts(opened, lang))}
<p class="intro">{_e(text.intro)}</p>
<form method="post" action="{_e(link)}">
<ol class="items">
{items}
</ol>
{_name_field(filled, words)}
<input type="hidden" name="lang" value="{_e(lang)}">
<input type="hidden" name="text_sha256" value="{_e(text.sha256)}">
<p class="note">{_e(words["buttons_note"])}</p>
<div class="actions">
<button type="submit" name="decision" value="grant" class="primary">
{_e(words["grant"])}</button>
<button type="submit" name="decision" value="decline" class="secondary">
{_e(words["decline"])}</button>
</div>
</form>
<p class="version">{_e(version)}</p>"""
    return _page(lang, text.title, body, link=link, status=status)


def recorded(opened: Opened, *, link: str, status: int = 200) -> HTMLResponse:
    """The decision this link recorded, and (while it stands) how to withdraw it."""
    consent, lang = opened.consent, opened.text.locale
    assert consent is not None
    words = WORDS[lang]
    student = opened.student.name
    state = state_of(opened)
    title = words["recorded_now" if status == 201 else "recorded_before"]
    lead = words[f"{state}_lead"].format(student=student)
    headings = {code: heading for code, heading, _ in opened.text.items}
    acknowledged = [
        headings.get(code, code) for code in opened.text.item_codes if code in consent.items
    ]
    acknowledged += [code for code in consent.items if code not in headings]
    facts = [
        (words["decision"], _e(words[state])),
        (words["student"], _e(student)),
        *_session_facts(opened, lang)[:4],
        (words["decided_at"], _e(local_time(consent.decided_at, opened.signer.timezone, lang))),
        (words["signed_by"], _e(_signed_by(opened, lang))),
        (
            words["items_acknowledged"],
            _list(acknowledged) if acknowledged else _e(words["no_items"]),
        ),
        (words["version"], _e(f"{consent.text_version} · SHA-256: {consent.text_hash}")),
    ]
    body = f"""<h1>{_e(title)}</h1>
<p class="outcome {state}" role="status">{_e(lead)}</p>
{_facts(facts)}
{_withdraw_form(opened, link, words) if state == "granted" else ""}"""
    return _page(lang, title, body, link=link, status=status)


def withdrawn(opened: Opened, *, link: str) -> HTMLResponse:
    """Consent taken back: the join link no longer works."""
    lang = opened.text.locale
    words = WORDS[lang]
    values = {"student": opened.student.name, "title": opened.session.title}
    title = words["withdrawn_title"]
    body = f"""<h1>{_e(title)}</h1>
<p class="outcome withdrawn" role="status">{_e(words["withdrawn_what"].format(**values))}</p>
<p>{_e(words["withdrawn_effect"].format(**values))}</p>
<p>{_e(words["withdrawn_again"])}</p>
<p><a class="action" href="{_e(link)}">{_e(words["see_decision"])}</a></p>"""
    return _page(lang, title, body, link=link, status=200)


def nothing_to_withdraw(opened: Opened, *, link: str) -> HTMLResponse:
    """Withdraw pressed where there is nothing standing to take back (404)."""
    lang = opened.text.locale
    words = WORDS[lang]
    state = state_of(opened)
    if state == "granted":  # it stands, yet was not withdrawn: say so, not "nothing to withdraw"
        return refusal("withdraw_failed", lang, link=link, status=404)
    why = words[f"nothing_{state}"].format(student=opened.student.name)
    target = "back_to_form" if state == "undecided" else "see_decision"
    body = f"""<h1>{_e(words["nothing_title"])}</h1>
<p>{_e(why)}</p>
<p><a class="action" href="{_e(link)}">{_e(words[target])}</a></p>"""
    return _page(lang, words["nothing_title"], body, link=link, status=404)


def refusal(reason: str, lang: str, *, link: str, status: int) -> HTMLResponse:
    """Why the link did nothing, and what to do: forged (404), used, expired, replaced (410)."""
    title, why, what_to_do = REFUSALS[reason][lang]
    see = ""
    if reason == "answered":
        see = f'<p><a class="action" href="{_e(link)}">{_e(WORDS[lang]["see_decision"])}</a></p>'
    body = f"<h1>{_e(title)}</h1>\n<p>{_e(why)}</p>\n<p>{_e(what_to_do)}</p>\n{see}"
    return _page(lang, title, body, link=link, status=status)


def local_time(moment: datetime, timezone: str, lang: str) -> str:
    """`Senin, 7 Desember 2026 pukul 08.45 WIB` / `Monday 7 December 2026 at 08:45 WIB`."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("Asia/Jakarta"), "Asia/Jakarta"
    local = as_utc(moment).astimezone(zone)
    label = ZONE_LABELS.get(timezone) or local.tzname() or timezone
    day, month = DAYS[lang][local.weekday()], MONTHS[lang][local.month - 1]
    if lang == "id":
        return f"{day}, {local.day} {month} {local.year} pukul {local:%H.%M} {label}"
    return f"{day} {local.day} {month} {local.year} at {local:%H:%M} {label}"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def state_of(opened: Opened) -> str:
    """`undecided`, `declined`, `granted` (standing) or `withdrawn`."""
    if opened.consent is None:
        return "undecided"
    if opened.consent.decision != "granted":
        return "declined"
    return "withdrawn" if opened.withdrawn else "granted"


def _missing(opened: Opened, filled: Filled) -> list[str]:
    if "missing_item" not in filled.problems:
        return []
    return [code for code in opened.text.item_codes if code not in filled.ticked]


def _session_facts(opened: Opened, lang: str) -> list[tuple[str, str]]:
    """(label, escaped value) pairs: the session, platform and fallback, the student, the signer."""
    words, request = WORDS[lang], opened.request
    zone = opened.signer.timezone
    fallback = PLATFORM_NAMES.get(request.fallback_platform or "") or words["no_fallback"]
    as_whom = words["as_student" if request.signer == "student" else "as_guardian"]
    if request.relationship:
        as_whom += f" ({RELATIONSHIPS[lang].get(request.relationship, request.relationship)})"
    return [
        (words["session"], _e(opened.session.title)),
        (words["schedule"], _e(local_time(opened.session.scheduled_start, zone, lang))),
        (words["platform"], _e(PLATFORM_NAMES.get(request.platform, request.platform))),
        (words["fallback"], _e(fallback)),
        (words["student"], _e(opened.student.name)),
        (words["signer_as"], _e(as_whom)),
        (words["link_until"], _e(local_time(request.expires_at, zone, lang))),
    ]


def _signed_by(opened: Opened, lang: str) -> str:
    assert opened.consent is not None
    relationship = opened.consent.relationship
    if not relationship:
        return opened.consent.signer_name
    return f"{opened.consent.signer_name} ({RELATIONSHIPS[lang].get(relationship, relationship)})"


def _facts(facts: Iterable[tuple[str, str]]) -> str:
    rows = "\n".join(f"<div><dt>{_e(label)}</dt><dd>{value}</dd></div>" for label, value in facts)
    return f'<dl class="facts">\n{rows}\n</dl>'


def _list(values: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(v)}</li>" for v in values) + "</ul>"


def _item(
    code: str,
    heading: str,
    body: str,
    n: int,
    total: int,
    words: dict[str, str],
    filled: Filled,
    missing: bool,
) -> str:
    checked = " checked" if code in filled.ticked else ""
    invalid = f' aria-invalid="true" aria-errormessage="error-{_e(code)}"' if missing else ""
    error = (
        f'<p class="field-error" id="error-{_e(code)}">{_e(words["item_unticked"])}</p>'
        if missing
        else ""
    )
    return f"""<li class="item{" missing" if missing else ""}" id="part-{_e(code)}">
<p class="step">{_e(words["step"].format(n=n, total=total))}</p>
<h2 id="heading-{_e(code)}">{_e(heading)}</h2>
<p class="body" id="body-{_e(code)}">{_e(body)}</p>
<div class="ack">
<input type="checkbox" id="item-{_e(code)}" name="item" value="{_e(code)}"
 aria-describedby="body-{_e(code)}"{checked}{invalid}>
<label for="item-{_e(code)}">{_e(words["acknowledge"].format(heading=heading))}</label>
</div>
{error}
</li>"""


def _name_field(filled: Filled, words: dict[str, str]) -> str:
    problem = next((p for p in filled.problems if p in ("name_missing", "name_invalid")), None)
    invalid = ' aria-invalid="true"' if problem else ""
    error = f'<p class="field-error" id="name-error">{_e(words[problem])}</p>' if problem else ""
    described = "name-hint name-error" if problem else "name-hint"
    return f"""<div class="name">
<label for="signer_name">{_e(words["name_label"])}</label>
<p class="hint" id="name-hint">{_e(words["name_hint"])}</p>
<input type="text" id="signer_name" name="signer_name" autocomplete="name" required
 maxlength="200" value="{_e(filled.signer_name)}" aria-describedby="{described}"{invalid}>
{error}
</div>"""


def _errors(opened: Opened, filled: Filled, missing: list[str], words: dict[str, str]) -> str:
    if not filled.problems:
        return ""
    headings = {code: heading for code, heading, _ in opened.text.items}
    entries: list[tuple[str, str]] = []
    for problem in filled.problems:
        if problem == "missing_item":
            entries += [
                (f"item-{code}", words["missing_item"].format(heading=headings[code]))
                for code in missing
            ]
        elif problem in ("name_missing", "name_invalid"):
            entries.append(("signer_name", words[problem]))
        elif problem == "text_changed":
            entries.append(("", words["text_changed"]))
        else:
            entries.append(("", words[problem]))
    rows = "\n".join(
        f'<li><a href="#{_e(target)}">{_e(message)}</a></li>'
        if target
        else f"<li>{_e(message)}</li>"
        for target, message in entries
    )
    return f"""<div class="errors" role="alert" aria-labelledby="errors-title">
<h2 id="errors-title">{_e(words["errors_title"])}</h2>
<ul>
{rows}
</ul>
</div>"""


def _withdraw_form(opened: Opened, link: str, words: dict[str, str]) -> str:
    student = opened.student.name
    return f"""<section class="withdraw" aria-labelledby="withdraw-title">
<h2 id="withdraw-title">{_e(words["withdraw_title"])}</h2>
<p>{_e(words["withdraw_how"])}</p>
<p>{_e(words["withdraw_effect"].format(student=student))}</p>
<form method="post" action="{_e(link)}/withdraw">
<input type="hidden" name="lang" value="{_e(opened.text.locale)}">
<button type="submit" class="danger">{_e(words["withdraw_button"])}</button>
</form>
</section>"""


def _page(lang: str, title: str, body: str, *, link: str, status: int) -> HTMLResponse:
    other = "en" if lang == "id" else "id"
    html = f"""<!doctype html>
<html lang="{_e(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{_e(title)} · Lingkar</title>
<style>{_CSS}</style>
</head>
<body>
<header class="bar">
<span class="brand">Lingkar</span>
<a class="lang" href="{_e(link)}?lang={other}" hreflang="{other}" lang="{other}">
{_e(LANGUAGE_NAMES[other])}</a>
</header>
<main>
{body}
</main>
</body>
</html>
"""
    headers = {**HEADERS, "Content-Language": lang}
    return HTMLResponse(html, status_code=status, headers=headers)
