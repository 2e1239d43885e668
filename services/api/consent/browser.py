"""The consent link in a browser: read the form, act through `public`, answer with a page.

The rules stay in `public` (what may be decided, what may be withdrawn); here a refusal becomes
a page that says why, in the language the person reads. When something is refused the
transaction is rolled back before the page is made, so a refused form records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent import pages, public
from services.api.consent.pages import Filled
from services.api.consent.texts import ShownText
from services.api.consent.tokens import ConsentTokens
from shared.db import AFTER_ROLLBACK
from shared.problems import DomainError, NotFound

log = logging.getLogger("lingkar.consent")

MAX_NAME = 200
MAX_ITEMS = 20


@dataclass(frozen=True)
class DecisionForm:
    """What the consent form posts: `decision`, `item` once per ticked box, the name."""

    decision: str
    items: tuple[str, ...]
    signer_name: str
    lang: str | None
    text_sha256: str

    def problems(self, text: ShownText) -> tuple[str, ...]:
        """Everything that stops this decision, at once (`public.decide` still enforces)."""
        found = []
        if self.decision not in ("grant", "decline"):
            found.append("decision_missing")
        if set(self.items) - set(text.item_codes):
            found.append("unknown_items")
        if self.decision == "grant" and set(text.item_codes) - set(self.items):
            found.append("missing_item")
        name = self.signer_name.strip()
        if not name:
            found.append("name_missing")
        elif len(name) > MAX_NAME or "\x00" in name:
            found.append("name_invalid")
        return tuple(found)

    def shown_again(self, problems: tuple[str, ...]) -> Filled:
        return Filled(frozenset(self.items), self.signer_name, problems)


async def read_decision_form(request: Request) -> DecisionForm:
    form = await request.form(max_files=0, max_fields=2 * MAX_ITEMS)
    items = [v for v in form.getlist("item") if isinstance(v, str)]
    return DecisionForm(
        decision=_text(form.get("decision")),
        items=tuple(dict.fromkeys(items))[:MAX_ITEMS],
        signer_name=_text(form.get("signer_name"))[: MAX_NAME * 2],
        lang=_language(form.get("lang")),
        text_sha256=_text(form.get("text_sha256")),
    )


async def read_language(request: Request) -> str | None:
    form = await request.form(max_files=0, max_fields=10)
    return _language(form.get("lang"))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _language(value: object) -> str | None:
    return value if value in ("id", "en") else None


async def ask_page(
    request: Request, *, db: AsyncSession, token: str, lang: str | None
) -> HTMLResponse:
    """The link opened: the form while it is open, else what was decided, else why not."""
    link = link_path(request)
    try:
        opened = await public.open_link(db=db, tokens=_tokens(request), token=token, locale=lang)
    except DomainError as error:
        return await _refused(db, error, lang, link)
    if opened.consent is not None:
        return pages.recorded(opened, link=link)
    if reason := _gone(request, token, opened):
        return pages.refusal(reason, opened.text.locale, link=link, status=410)
    return pages.ask(opened, link=link)


async def decide_page(request: Request, *, db: AsyncSession, token: str) -> HTMLResponse:
    """The form posted: record the decision (channel `web`), or show the form again saying why."""
    form, link = await read_decision_form(request), link_path(request)
    try:
        opened = await public.open_link(
            db=db, tokens=_tokens(request), token=token, locale=form.lang
        )
    except DomainError as error:
        return await _refused(db, error, form.lang, link)
    if reason := _gone(request, token, opened):
        return pages.refusal(reason, opened.text.locale, link=link, status=410)
    if form.text_sha256 != opened.text.sha256:  # not the text this form showed: read it again
        again = Filled(signer_name=form.signer_name, problems=("text_changed",))
        return pages.ask(opened, link=link, filled=again, status=409)
    if problems := form.problems(opened.text):
        return pages.ask(opened, link=link, filled=form.shown_again(problems), status=422)
    try:
        await public.decide(
            db=db, tokens=_tokens(request), token=token, decision=_decision(request, form)
        )
    except DomainError as error:
        return await _refused(db, error, opened.text.locale, link)
    opened = await public.open_link(db=db, tokens=_tokens(request), token=token, locale=form.lang)
    return pages.recorded(opened, link=link, status=201)


async def withdraw_page(request: Request, *, db: AsyncSession, token: str) -> HTMLResponse:
    """Withdraw pressed: take the consent back, or say why there is nothing to take back."""
    lang, link = await read_language(request), link_path(request)
    tokens = _tokens(request)
    try:
        await public.withdraw(db=db, tokens=tokens, token=token, reason=None)
    except NotFound:
        await _roll_back(db)
        try:
            opened = await public.open_link(db=db, tokens=tokens, token=token, locale=lang)
        except DomainError as error:
            return await _refused(db, error, lang, link)
        return pages.nothing_to_withdraw(opened, link=link)
    except DomainError as error:
        return await _refused(db, error, lang, link)
    opened = await public.open_link(db=db, tokens=tokens, token=token, locale=lang)
    return pages.withdrawn(opened, link=link)


def link_path(request: Request) -> str:
    """The consent link's own path (what its forms post to), whichever of its URLs was asked."""
    return request.url.path.removesuffix("/withdraw")


def _tokens(request: Request) -> ConsentTokens:
    tokens: ConsentTokens = request.app.state.consent_tokens
    return tokens


def _gone(request: Request, token: str, opened: public.Opened) -> str | None:
    """Why no decision can be made with this link any more (`public.decide` refuses it too)."""
    if opened.request.status != "open":
        return (
            opened.request.status if opened.request.status in ("answered", "superseded") else "gone"
        )
    return "expired" if _tokens(request).read(token).expired else None


def _decision(request: Request, form: DecisionForm) -> public.Decision:
    return public.Decision(
        decision="grant" if form.decision == "grant" else "decline",
        acknowledged_items=list(form.items),
        signer_name=form.signer_name,
        locale=form.lang or "",
        channel="web",
        client_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def _refused(
    db: AsyncSession, error: DomainError, lang: str | None, link: str
) -> HTMLResponse:
    """The page for a refusal; whatever the refused step wrote is rolled back first."""
    await _roll_back(db)
    language = pages.language_of(lang)
    if isinstance(error, NotFound):
        return pages.refusal("not_found", language, link=link, status=404)
    if isinstance(error, public.LinkGone):
        return pages.refusal("gone", language, link=link, status=410)
    return pages.refusal("problem", language, link=link, status=error.status)


async def _roll_back(db: AsyncSession) -> None:
    """What the request's session does when an error is raised, for an error made into a page:
    roll back, then write what must outlive the rollback (the record of a refusal)."""
    await db.rollback()
    for write in db.info.pop(AFTER_ROLLBACK, []):
        try:
            await write()
        except Exception:
            log.exception("a record kept after a rollback could not be written")
