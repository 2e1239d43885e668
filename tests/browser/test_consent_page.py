"""A guardian's phone opens the consent link: reads, ticks each item, grants, then withdraws.

Debian's Chromium (/usr/bin/chromium, installed by scripts/ensure_chromium.sh; Playwright never
downloads a browser here), driven by Playwright's async API on the test's own event loop, against
the api app served by uvicorn on a loopback port. Screenshots of the phone-sized pages go to
tests/artifacts/ on every run, and to docs/screenshots/ when LINGKAR_UPDATE_SCREENSHOTS=1 (so
a test run never changes files the repository keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, Response, async_playwright

from services.api.consent.texts import GUARDIAN_ITEMS, STUDENT_ITEMS
from tests.api.test_consent_pages import TITLE_EN, TITLE_ID, consents, minor_with_guardian
from tests.factories import SchoolKit

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}


class _Server(uvicorn.Server):
    """uvicorn inside the test's loop: the test runner keeps its own signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def served(apps: dict[str, FastAPI]) -> AsyncIterator[str]:
    """The already-started api app over real HTTP on a free loopback port (no second lifespan)."""
    config = uvicorn.Config(
        apps["api"], lifespan="off", log_config=None, access_log=False, log_level="warning"
    )
    server = _Server(config)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        listener.close()


@pytest.fixture
def chromium_path() -> str:
    """Debian's Chromium; missing, the run fails (it never skips)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (Debian's chromium)")
    return str(CHROMIUM)


@pytest.fixture
async def chromium(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


def on_server(url: str, served: str) -> str:
    """The link as sent (it starts with the public URL), pointed at the test's server."""
    link = httpx.URL(url)
    return f"{served}{link.raw_path.decode()}"


async def keep_screenshots(page: Page, name: str) -> None:
    """The whole page in device pixels as the test's artifact; in CSS pixels for the docs."""
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / name, full_page=True)
    if os.environ.get("LINGKAR_UPDATE_SCREENSHOTS") == "1":
        await page.screenshot(path=SCREENSHOTS / name, full_page=True, scale="css")


async def submit(page: Page, button: str) -> Response:
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name=button).click()
    response = await answer.value
    await page.wait_for_load_state()
    return response


async def check_accessible(page: Page) -> None:
    """Touch targets of 44px at least, 4.5:1 contrast, no sideways scrolling at 360px."""
    small = await page.evaluate(
        """() => [...document.querySelectorAll('label[for^="item-"], button, a, input')]
              .filter(e => e.type !== 'hidden' && e.type !== 'checkbox')
              .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
              .filter(([, h]) => h < 44)"""
    )
    assert small == [], small
    low = await page.evaluate(
        """() => {
          const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = c => {
            const [r, g, b] = c.map(v => { v /= 255;
              return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const background = e => {
            for (; e; e = e.parentElement) {
              const c = getComputedStyle(e).backgroundColor;
              if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return rgb(c);
            }
            return [255, 255, 255];
          };
          const out = [];
          for (const e of document.querySelectorAll('h1, h2, p, dt, dd, label, button, a')) {
            const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(background(e))];
            const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            if (ratio < 4.5) out.push([e.outerHTML.slice(0, 60), ratio]);
          }
          return out;
        }"""
    )
    assert low == [], low
    await page.focus("#signer_name")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    await page.set_viewport_size({"width": 360, "height": 800})
    sideways = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert sideways <= 0
    await page.set_viewport_size(PHONE["viewport"])


async def test_a_guardian_grants_on_a_phone_and_withdraws_from_the_same_link(
    school: SchoolKit,
    api: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    served: str,
    chromium: Browser,
) -> None:
    scene = await minor_with_guardian(school)  # asks: the answer holds each signer's link
    sent = scene.urls[scene.guardian["id"]]
    assert sent.startswith(apps["api"].state.settings.public_url)
    link = on_server(sent, served)
    context = await chromium.new_context(**PHONE)
    page = await context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    opened = await page.goto(link)
    assert opened is not None and opened.status == 200
    assert await page.get_attribute("html", "lang") == "id"
    assert await page.locator("h1").inner_text() == TITLE_ID
    assert await page.get_by_role("link", name="English").is_visible()
    await keep_screenshots(page, "consent-phone.png")
    await check_accessible(page)

    for code in GUARDIAN_ITEMS:
        await page.locator(f'label[for="item-{code}"]').click()
        assert await page.locator(f"#item-{code}").is_checked()
    await page.get_by_label("Nama lengkap Anda").fill("Sari Wulandari")
    granted = await submit(page, "Saya setuju")

    assert granted.status == 201
    assert await page.locator("h1").inner_text() == "Keputusan Anda sudah tercatat"
    confirmation = await page.locator("main").inner_text()
    assert "Sari Wulandari (ibu)" in confirmation and "Jitsi Meet" in confirmation
    assert "Tautan yang sama ini bisa dipakai kapan saja" in confirmation
    await keep_screenshots(page, "consent-confirmed-phone.png")

    user_agent = await page.evaluate("navigator.userAgent")
    [consent] = [c for c in await consents(apps["api"]) if str(c.signer_id) == scene.guardian["id"]]
    shown = await api.get(httpx.URL(link).path, params={"lang": "id"})
    assert consent.text_hash == shown.json()["text"]["sha256"]
    assert consent.locale == "id" and consent.channel == "web"
    assert consent.user_agent == user_agent and consent.client_address == "127.0.0.1"
    assert sorted(consent.items) == sorted(GUARDIAN_ITEMS)

    withdrawn = await submit(page, "Tarik persetujuan")
    assert withdrawn.status == 200
    assert await page.locator("h1").inner_text() == "Persetujuan sudah ditarik"
    assert "tidak berlaku lagi" in await page.locator("main").inner_text()
    records = await school.get(f"/v1/sessions/{scene.session['id']}/consents")
    [record] = [r for r in records if r["signer_id"] == scene.guardian["id"]]
    assert record["withdrawn_at"] is not None
    assert violations == []
    await context.close()


async def test_the_same_page_reads_in_english_when_chosen(
    school: SchoolKit, served: str, chromium: Browser
) -> None:
    scene = await minor_with_guardian(school)
    context = await chromium.new_context(**PHONE)
    page = await context.new_page()

    await page.goto(f"{served}{scene.student_link}")
    assert await page.get_attribute("html", "lang") == "id"
    await page.get_by_role("link", name="English").click()
    await page.wait_for_load_state()
    assert page.url.endswith("?lang=en")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.locator("h1").inner_text() == TITLE_EN
    assert await page.locator('input[type="checkbox"]').count() == len(STUDENT_ITEMS)
    assert await page.get_by_role("button", name="I agree", exact=True).is_visible()
    await context.close()
