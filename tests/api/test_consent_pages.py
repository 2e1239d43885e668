"""The consent link in a browser, in process: the form, the decision, refusals, withdrawal."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent.models import Consent
from services.api.consent.texts import GUARDIAN_ITEMS, STUDENT_ITEMS
from tests.factories import SchoolKit

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36",
}
TITLE_ID = "Persetujuan mengikuti bimbingan kelompok online"
TITLE_EN = "Consent to take part in online group guidance"


# --- reading a page ----------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Page:
    """A page's elements in document order, each with its attributes and its text."""

    status: int
    html: str
    elements: list[Element] = field(default_factory=list)

    def all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, **attrs: str) -> Element:
        [found] = self.all(tag, **attrs)
        return found

    def with_class(self, name: str) -> list[Element]:
        return [e for e in self.elements if name in e.attrs.get("class", "").split()]

    @property
    def text(self) -> str:
        return " ".join(self.one("main").text.split())

    def hidden(self, name: str) -> str:
        return self.one("input", type="hidden", name=name).attrs["value"]


class _Reader(HTMLParser):
    VOID = {"input", "meta", "br", "img", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[Element] = []
        self.done: list[tuple[int, Element]] = []
        self.order = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs})
        self.order += 1
        if tag in self.VOID:
            self.done.append((self.order, element))
        else:
            self.open.append(element)
            self.done.append((self.order, element))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def page_of(answer: httpx.Response) -> Page:
    assert answer.headers["content-type"].startswith("text/html"), answer.text
    reader = _Reader()
    reader.feed(answer.text)
    return Page(answer.status_code, answer.text, [e for _, e in reader.done])


def squeeze(text: str) -> str:
    return " ".join(text.split())


# --- the scene -----------------------------------------------------------------------------


@dataclass
class Scene:
    school: SchoolKit
    session: dict[str, Any]
    student: dict[str, Any]
    guardian: dict[str, Any]
    urls: dict[str, str]  # signer id -> the consent link as sent

    @property
    def guardian_link(self) -> str:
        return httpx.URL(self.urls[self.guardian["id"]]).path

    @property
    def student_link(self) -> str:
        return httpx.URL(self.urls[self.student["id"]]).path


async def minor_with_guardian(
    school: SchoolKit, *, student_name: str = "Dewi Lestari", title: str | None = None
) -> Scene:
    """A session of one minor (with her mother on file) and two adults, platform Jitsi."""
    counselor = await school.user("counselor", name="Bu Ratna")
    student = await school.user(
        "student", name=student_name, birth_date="2011-04-04", email="dewi@siswa.id"
    )
    adults = [await school.user("student", birth_date="2000-01-01") for _ in range(2)]
    guardian = await school.user("guardian", name="Ibu Sari", email="sari@example.id")
    await school.post(
        f"/v1/users/{student['id']}/guardians",
        {"guardian_id": guardian["id"], "relationship": "mother"},
    )
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok Karier",
            "counselor_id": counselor["id"],
            "field": "career",
            "member_ids": [student["id"], *(a["id"] for a in adults)],
        },
    )
    session = await school.session(group, **({"title": title} if title else {}))
    answer = await school.api.put(
        f"/v1/sessions/{session['id']}/platform",
        json={"provider": "jitsi", "fallback_provider": "zoom"},
        headers=school.auth,
    )
    assert answer.status_code == 200, answer.text
    asked = await school.post(f"/v1/sessions/{session['id']}/consent-requests", {})
    urls = {r["signer_id"]: r["url"] for r in asked["requests"]}
    return Scene(school, session, student, guardian, urls)


@pytest.fixture
async def scene(school: SchoolKit) -> Scene:
    return await minor_with_guardian(school)


async def open_page(api: httpx.AsyncClient, link: str, **params: str) -> Page:
    return page_of(await api.get(link, params=params, headers=BROWSER))


async def post_form(api: httpx.AsyncClient, path: str, form: dict[str, Any]) -> Page:
    return page_of(await api.post(path, data=form, headers=BROWSER))


def filled(
    page: Page, *, items: tuple[str, ...], name: str = "Sari Wulandari", **extra: Any
) -> dict[str, Any]:
    """The form as a browser posts it: the hidden fields as shown, the ticked items, the name."""
    return {
        "lang": page.hidden("lang"),
        "text_sha256": page.hidden("text_sha256"),
        "item": list(items),
        "signer_name": name,
        "decision": "grant",
        **extra,
    }


async def consents(app: FastAPI) -> list[Consent]:
    async with AsyncSession(app.state.engine) as db:
        return list((await db.exec(select(Consent))).all())


async def consent_count(app: FastAPI) -> int:
    async with AsyncSession(app.state.engine) as db:
        return int((await db.exec(select(func.count()).select_from(Consent))).one())


async def ask_json(api: httpx.AsyncClient, link: str, lang: str | None = None) -> dict[str, Any]:
    params = {"lang": lang} if lang else {}
    answer = await api.get(link, params=params, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def forged(link: str) -> str:
    """The same link with one character of its signature changed."""
    last = link[-1]
    return link[:-1] + ("A" if last != "A" else "B")


# --- the form --------------------------------------------------------------------------------


async def test_a_browser_gets_the_form_in_indonesian_and_a_front_end_still_gets_json(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    page = await open_page(api, scene.guardian_link)
    assert page.status == 200
    assert page.one("html").attrs["lang"] == "id"
    assert page.one("h1").text == TITLE_ID
    assert "Jitsi Meet" in page.text and "Zoom" in page.text and "Dewi Lestari" in page.text
    assert page.one("a", hreflang="en").attrs["href"] == f"{scene.guardian_link}?lang=en"
    assert page.one("button", value="grant").text.strip() == "Saya setuju"
    assert page.one("button", value="decline").text.strip() == "Saya tidak setuju"

    as_json = await api.get(scene.guardian_link)  # httpx sends Accept: */*
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["text"]["title"] == TITLE_ID


async def test_english_is_one_visible_link_away_and_the_choice_is_posted_back(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    page = await open_page(api, scene.guardian_link, lang="en")
    assert page.one("html").attrs["lang"] == "en"
    assert page.one("h1").text == TITLE_EN
    assert page.hidden("lang") == "en"
    assert page.one("a", hreflang="id").attrs["href"] == f"{scene.guardian_link}?lang=id"
    assert page.one("button", value="grant").text.strip() == "I agree"


async def test_the_page_shows_exactly_the_text_whose_hash_is_kept_item_by_item(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    for lang in ("id", "en"):
        text = (await ask_json(api, scene.guardian_link, lang))["text"]
        page = await open_page(api, scene.guardian_link, lang=lang)
        shown_title = page.one("h1").text
        shown_intro = page.with_class("intro")[0].text
        shown_items = [
            (
                page.one("input", type="checkbox", value=item["code"]).attrs["value"],
                page.one("h2", id=f"heading-{item['code']}").text,
                page.one("p", id=f"body-{item['code']}").text,
            )
            for item in text["items"]
        ]
        parts = [shown_title, shown_intro, *(f"{h}\n{b}" for _, h, b in shown_items)]
        assert hashlib.sha256("\n\n".join(parts).encode()).hexdigest() == text["sha256"]
        assert [code for code, _, _ in shown_items] == list(GUARDIAN_ITEMS)
        assert page.hidden("text_sha256") == text["sha256"]
        assert text["sha256"] in page.with_class("version")[0].text
        # one by one, in the text's order
        positions = [page.html.index(f'id="heading-{code}"') for code in GUARDIAN_ITEMS]
        assert positions == sorted(positions)


async def test_every_item_has_its_own_checkbox_with_a_real_label(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    page = await open_page(api, scene.guardian_link)
    boxes = page.all("input", type="checkbox")
    assert [b.attrs["value"] for b in boxes] == list(GUARDIAN_ITEMS)
    for box in boxes:
        assert box.attrs["name"] == "item" and "checked" not in box.attrs
        assert "required" not in box.attrs  # declining needs no ticks
        label = page.one("label", for_=box.attrs["id"])
        heading = page.one("h2", id=f"heading-{box.attrs['value']}").text
        assert label.text == f"Saya sudah membaca dan memahami: {heading}"
    name = page.one("input", id="signer_name")
    assert name.attrs["name"] == "signer_name" and "required" in name.attrs
    assert page.one("label", for_="signer_name").text == "Nama lengkap Anda"
    form = page.one("form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == scene.guardian_link
    assert "<script" not in page.html and "http" not in page.html.split("<main>")[0].lower()


async def test_the_page_is_private_and_loads_nothing_from_elsewhere(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    answer = await api.get(scene.guardian_link, headers=BROWSER)
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-language"] == "id"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "src=" not in answer.text and "<link" not in answer.text


# --- deciding ------------------------------------------------------------------------------


async def test_the_form_without_javascript_records_a_web_consent_and_confirms_it(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    page = await open_page(api, scene.guardian_link)
    done = await post_form(api, scene.guardian_link, filled(page, items=GUARDIAN_ITEMS))

    assert done.status == 201
    assert done.one("h1").text == "Keputusan Anda sudah tercatat"
    text = done.text
    for fact in ("Setuju", "Dewi Lestari", "Jitsi Meet", "Sari Wulandari (ibu)", "lingkar-1"):
        assert fact in text
    for heading in (page.one("h2", id=f"heading-{c}").text for c in GUARDIAN_ITEMS):
        assert heading in text
    assert "Tautan yang sama ini bisa dipakai kapan saja untuk menariknya" in text
    withdraw = done.one("form")
    assert withdraw.attrs["action"] == f"{scene.guardian_link}/withdraw"
    assert done.one("button").text.strip() == "Tarik persetujuan"

    [consent] = [
        c for c in await consents(apps["api"]) if c.signer_id == uuid.UUID(scene.guardian["id"])
    ]
    shown = (await ask_json(api, scene.guardian_link, "id"))["text"]
    assert consent.text_hash == shown["sha256"] == page.hidden("text_sha256")
    assert consent.text_hash in text
    assert consent.channel == "web" and consent.locale == "id"
    assert consent.decision == "granted" and sorted(consent.items) == sorted(GUARDIAN_ITEMS)
    assert consent.signer_name == "Sari Wulandari" and consent.relationship == "mother"
    assert consent.user_agent == BROWSER["User-Agent"] and consent.client_address


async def test_the_english_form_records_the_hash_of_the_english_text(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    page = await open_page(api, scene.student_link, lang="en")
    done = await post_form(api, scene.student_link, filled(page, items=STUDENT_ITEMS))
    assert done.status == 201 and done.one("html").attrs["lang"] == "en"
    assert done.one("h1").text == "Your decision is recorded"
    [consent] = [
        c for c in await consents(apps["api"]) if c.signer_id == uuid.UUID(scene.student["id"])
    ]
    assert consent.locale == "en"
    assert consent.text_hash == (await ask_json(api, scene.student_link, "en"))["text"]["sha256"]


async def test_a_missing_item_shows_the_form_again_naming_it_with_the_ticks_kept(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    before = await consent_count(apps["api"])
    page = await open_page(api, scene.guardian_link)
    ticked = tuple(c for c in GUARDIAN_ITEMS if c not in ("confidentiality", "guardian_informed"))
    again = await post_form(api, scene.guardian_link, filled(page, items=ticked, name="Ibu <Sari>"))

    assert again.status == 422
    summary = squeeze(again.with_class("errors")[0].text)
    assert "Centang bagian “Kerahasiaan”" in summary
    assert "Centang bagian “Pendampingan orang tua/wali”" in summary
    assert "Sukarela" not in summary
    checked = [
        b.attrs["value"] for b in again.all("input", type="checkbox") if "checked" in b.attrs
    ]
    assert checked == list(ticked)
    assert again.one("input", id="item-confidentiality").attrs["aria-invalid"] == "true"
    assert again.one("input", id="signer_name").attrs["value"] == "Ibu <Sari>"
    assert "Ibu &lt;Sari&gt;" in again.html
    assert await consent_count(apps["api"]) == before


async def test_a_missing_name_and_no_decision_are_named_too(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    before = await consent_count(apps["api"])
    page = await open_page(api, scene.guardian_link, lang="en")
    form = filled(page, items=GUARDIAN_ITEMS, name="  ")
    del form["decision"]
    again = await post_form(api, scene.guardian_link, form)
    assert again.status == 422
    summary = squeeze(again.with_class("errors")[0].text)
    assert "Write your full name" in summary and "Choose “I agree”" in summary
    assert await consent_count(apps["api"]) == before


async def test_a_decline_needs_no_ticks_and_offers_nothing_to_withdraw(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    page = await open_page(api, scene.guardian_link)
    done = await post_form(api, scene.guardian_link, filled(page, items=(), decision="decline"))
    assert done.status == 201
    assert "tidak akan menerima tautan pertemuan" in done.text
    assert done.all("form") == []
    [consent] = [
        c for c in await consents(apps["api"]) if c.signer_id == uuid.UUID(scene.guardian["id"])
    ]
    assert consent.decision == "declined" and consent.channel == "web"

    nothing = await post_form(api, f"{scene.guardian_link}/withdraw", {"lang": "id"})
    assert nothing.status == 404
    assert nothing.one("h1").text == "Tidak ada persetujuan untuk ditarik"


async def test_a_form_showing_an_older_text_is_refused_and_shown_again(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    before = await consent_count(apps["api"])
    page = await open_page(api, scene.guardian_link)
    form = filled(page, items=GUARDIAN_ITEMS, text_sha256="0" * 64)
    again = await post_form(api, scene.guardian_link, form)
    assert again.status == 409
    assert "Teks persetujuan diperbarui" in again.text
    assert again.hidden("text_sha256") == page.hidden("text_sha256")
    assert await consent_count(apps["api"]) == before


# --- refusals ------------------------------------------------------------------------------


async def test_a_used_link_answers_410_with_a_page_saying_why(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    page = await open_page(api, scene.guardian_link)
    form = filled(page, items=GUARDIAN_ITEMS)
    assert (await post_form(api, scene.guardian_link, form)).status == 201
    count = await consent_count(apps["api"])

    again = await post_form(api, scene.guardian_link, {**form, "decision": "decline"})
    assert again.status == 410
    assert again.one("h1").text == "Tautan ini sudah dipakai"
    assert "minta tautan baru kepada guru BK" in again.text
    assert await consent_count(apps["api"]) == count

    english = await post_form(api, scene.guardian_link, {**form, "lang": "en"})
    assert english.status == 410 and english.one("h1").text == "This link was already used"


async def test_a_forged_link_answers_404_with_a_page_and_records_nothing(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    before = await consent_count(apps["api"])
    page = await open_page(api, scene.guardian_link)
    bad = forged(scene.guardian_link)

    shown = await open_page(api, bad)
    assert shown.status == 404 and shown.one("h1").text == "Tautan tidak dikenali"
    posted = await post_form(api, bad, filled(page, items=GUARDIAN_ITEMS))
    assert posted.status == 404 and "Tidak ada yang dicatat" in posted.text
    english = await open_page(api, bad, lang="en")
    assert english.status == 404 and english.one("h1").text == "Link not recognised"
    withdrawn = await post_form(api, f"{bad}/withdraw", {"lang": "id"})
    assert withdrawn.status == 404 and withdrawn.one("h1").text == "Tautan tidak dikenali"
    assert await consent_count(apps["api"]) == before


async def test_an_expired_link_answers_410_with_a_page(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    tokens = apps["api"].state.consent_tokens
    token = scene.guardian_link.rsplit("/", 1)[1]
    expired_token = tokens.issue(
        tokens.read(token).request_id, datetime.now(UTC) - timedelta(hours=1)
    )
    expired = f"/v1/consent/{expired_token}"
    before = await consent_count(apps["api"])
    fresh = await open_page(api, scene.guardian_link)

    shown = await open_page(api, expired)
    assert shown.status == 410 and shown.one("h1").text == "Tautan ini sudah kedaluwarsa"
    assert "Minta tautan baru kepada guru BK Anda." in shown.text
    posted = await post_form(api, expired, filled(fresh, items=GUARDIAN_ITEMS))
    assert posted.status == 410 and posted.one("h1").text == "Tautan ini sudah kedaluwarsa"
    assert await consent_count(apps["api"]) == before


async def test_every_value_people_typed_is_escaped(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    scene = await minor_with_guardian(
        school,
        student_name='<script>alert("x")</script> Dewi',
        title='Stres & ujian <img src=x onerror="alert(1)">',
    )
    page = await open_page(api, scene.guardian_link)
    assert "<script>" not in page.html and "<img" not in page.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Dewi" in page.html
    assert "Stres &amp; ujian &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page.html
    assert page.one("h1").text == TITLE_ID  # the text's own words are untouched

    done = await post_form(
        api,
        scene.guardian_link,
        filled(page, items=GUARDIAN_ITEMS, name="<b onmouseover=alert(2)>Sari</b>"),
    )
    assert done.status == 201
    assert "<b " not in done.html and "&lt;b onmouseover=alert(2)&gt;Sari&lt;/b&gt;" in done.html
    assert "<script>" not in done.html


# --- after deciding, and withdrawing -------------------------------------------------------


async def test_withdrawing_from_the_page_uncleares_the_member_at_once(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    for link, items in ((scene.student_link, STUDENT_ITEMS), (scene.guardian_link, GUARDIAN_ITEMS)):
        page = await open_page(api, link)
        assert (await post_form(api, link, filled(page, items=items))).status == 201
    assert await member_cleared(scene) is True

    again = await open_page(api, scene.guardian_link)  # the same link, later
    assert again.status == 200 and again.one("h1").text == "Keputusan dengan tautan ini"
    assert again.all("input", type="checkbox") == []
    assert again.one("form").attrs["action"] == f"{scene.guardian_link}/withdraw"

    done = await post_form(api, f"{scene.guardian_link}/withdraw", {"lang": again.hidden("lang")})
    assert done.status == 200
    assert done.one("h1").text == "Persetujuan sudah ditarik"
    assert "Tautan pertemuan Dewi Lestari tidak berlaku lagi" in done.text
    assert await member_cleared(scene) is False

    later = await open_page(api, scene.guardian_link)
    assert "Persetujuan ini sudah ditarik" in later.text and later.all("form") == []
    twice = await post_form(api, f"{scene.guardian_link}/withdraw", {"lang": "en"})
    assert twice.status == 404 and "already withdrawn" in twice.text

    records = await scene.school.get(f"/v1/sessions/{scene.session['id']}/consents")
    [record] = [r for r in records if r["signer_id"] == scene.guardian["id"]]
    assert record["withdrawn_at"] is not None


async def test_withdraw_before_any_decision_says_there_is_nothing_to_withdraw(
    scene: Scene, api: httpx.AsyncClient
) -> None:
    nothing = await post_form(api, f"{scene.guardian_link}/withdraw", {"lang": "id"})
    assert nothing.status == 404
    assert "Belum ada keputusan dengan tautan ini" in nothing.text
    assert nothing.one("a", class_="action").attrs["href"] == scene.guardian_link


async def member_cleared(scene: Scene) -> bool:
    gate = (await scene.school.get(f"/v1/sessions/{scene.session['id']}"))["gate"]
    [member] = [m for m in gate["members"] if m["student_id"] == scene.student["id"]]
    return bool(member["cleared"])


async def test_a_replaced_link_answers_410_saying_a_newer_one_was_sent(
    scene: Scene, api: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    before = await consent_count(apps["api"])
    page = await open_page(api, scene.guardian_link)
    changed = await scene.school.api.put(
        f"/v1/sessions/{scene.session['id']}/platform",
        json={"provider": "google_meet"},
        headers=scene.school.auth,
    )
    assert changed.status_code == 200, changed.text

    shown = await open_page(api, scene.guardian_link)
    assert shown.status == 410 and shown.one("h1").text == "Tautan ini sudah diganti"
    posted = await post_form(api, scene.guardian_link, filled(page, items=GUARDIAN_ITEMS))
    assert posted.status == 410 and "Pakai tautan terbaru" in posted.text
    assert await consent_count(apps["api"]) == before
