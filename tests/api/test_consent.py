"""The consent path through its JSON API: requests, decisions, withdrawal, re-consent."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent.models import Consent
from services.api.consent.texts import GUARDIAN_ITEMS, STUDENT_ITEMS
from tests.api.test_gate import codes, member
from tests.factories import SchoolKit, eventually, notifications_about


async def minor_and_adult_session(school: SchoolKit) -> dict[str, Any]:
    counselor = await school.user("counselor")
    minor = await school.user(
        "student", birth_date="2011-04-04", email="minor@siswa.id", name="Dewi <Minor>"
    )
    adult = await school.user(
        "student", birth_date="2000-04-04", email="adult@siswa.id", locale="en"
    )
    orphan = await school.user("student", email="orphan@siswa.id")  # no birth date: a minor
    guardian = await school.user("guardian", email="ibu.dewi@example.id", name="Ibu Dewi")
    await school.post(
        f"/v1/users/{minor['id']}/guardians",
        {"guardian_id": guardian["id"], "relationship": "mother"},
    )
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok",
            "counselor_id": counselor["id"],
            "field": "personal",
            "member_ids": [minor["id"], adult["id"], orphan["id"]],
        },
    )
    session = await school.session(group)
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform",
        json={"provider": "jitsi", "fallback_provider": "zoom"},
        headers=school.auth,
    )
    session.update(minor=minor, adult=adult, orphan=orphan, guardian=guardian, counselor=counselor)
    return session


async def ask(school: SchoolKit, session: dict[str, Any]) -> dict[str, Any]:
    return dict(await school.post(f"/v1/sessions/{session['id']}/consent-requests", {}))


def token_of(asked: dict[str, Any], signer_id: str) -> str:
    [request] = [r for r in asked["requests"] if r["signer_id"] == signer_id]
    return str(request["url"].rsplit("/", 1)[1])


async def consents_count(app: FastAPI) -> int:
    async with AsyncSession(app.state.engine) as db:
        return int((await db.exec(select(func.count()).select_from(Consent))).one())


def grant(items: tuple[str, ...] = STUDENT_ITEMS, **extra: Any) -> dict[str, Any]:
    return {
        "decision": "grant",
        "acknowledged_items": list(items),
        "signer_name": "Penanda",
        **extra,
    }


async def test_requests_go_to_each_student_and_each_guardian_of_a_minor(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    pairs = {(r["student_id"], r["signer"], r["signer_id"]) for r in asked["requests"]}
    assert pairs == {
        (session["minor"]["id"], "student", session["minor"]["id"]),
        (session["minor"]["id"], "guardian", session["guardian"]["id"]),
        (session["adult"]["id"], "student", session["adult"]["id"]),
        (session["orphan"]["id"], "student", session["orphan"]["id"]),
    }
    assert asked["missing_guardians"] == [session["orphan"]["id"]]
    assert all(r["url"].startswith("http://127.0.0.1:8000/v1/consent/") for r in asked["requests"])

    async def sent() -> Any:
        found = await notifications_about(apps["notifications"], session["id"])
        return [n for n in found if n[0] == "consent_requested"] if len(found) >= 4 else None

    messages = await eventually(sent)
    assert {p for _, _, people in messages for p in people} == {
        session["minor"]["id"],
        session["guardian"]["id"],
        session["adult"]["id"],
        session["orphan"]["id"],
    }
    guardian_msg = next(d for _, d, p in messages if session["guardian"]["id"] in p)
    assert guardian_msg["signer"] == "guardian" and guardian_msg["student_name"] == "Dewi <Minor>"


async def test_asking_again_resends_open_requests_without_duplicates(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    first = await ask(school, session)
    again = await ask(school, session)
    assert len(again["requests"]) == len(first["requests"])
    assert {r["url"] for r in again["requests"]}.isdisjoint({r["url"] for r in first["requests"]})
    # Both links work: the earlier one still names the same open request.
    old = token_of(first, session["adult"]["id"])
    assert (await school.api.get(f"/v1/consent/{old}")).status_code == 200


async def test_the_link_shows_the_text_in_the_signers_language_with_every_item(
    school: SchoolKit,
) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    student = (
        await school.api.get(f"/v1/consent/{token_of(asked, session['minor']['id'])}")
    ).json()
    guardian = (
        await school.api.get(f"/v1/consent/{token_of(asked, session['guardian']['id'])}")
    ).json()
    adult = (await school.api.get(f"/v1/consent/{token_of(asked, session['adult']['id'])}")).json()
    assert student["text"]["locale"] == "id" and adult["text"]["locale"] == "en"
    assert [i["code"] for i in student["text"]["items"]] == list(STUDENT_ITEMS)
    assert [i["code"] for i in guardian["text"]["items"]] == list(GUARDIAN_ITEMS)
    service = guardian["text"]["items"][0]["text"]
    assert "Jitsi Meet" in service and "Zoom" in service
    assert "Dewi <Minor>" in guardian["text"]["intro"]
    assert guardian["status"] == "open" and guardian["session"]["platform"] == "jitsi"
    english = (
        await school.api.get(f"/v1/consent/{token_of(asked, session['minor']['id'])}?lang=en")
    ).json()
    assert (
        english["text"]["locale"] == "en" and english["text"]["sha256"] != student["text"]["sha256"]
    )


async def test_a_grant_records_who_what_and_the_hash_of_the_text_shown(
    school: SchoolKit,
) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    token = token_of(asked, session["guardian"]["id"])
    shown = (await school.api.get(f"/v1/consent/{token}?lang=en")).json()["text"]
    canonical = "\n\n".join(
        [shown["title"], shown["intro"]] + [f"{i['title']}\n{i['text']}" for i in shown["items"]]
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == shown["sha256"]
    answer = await school.api.post(
        f"/v1/consent/{token}",
        json=grant(GUARDIAN_ITEMS, signer_name="Ibu Dewi", locale="en"),
        headers={"User-Agent": "PhoneBrowser/1.0"},
    )
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert record["text_hash"] == shown["sha256"] and record["locale"] == "en"
    assert (record["signer"], record["relationship"]) == ("guardian", "mother")
    assert record["student_id"] == session["minor"]["id"]
    assert record["platform"] == "jitsi" and record["decision"] == "granted"
    assert record["channel"] == "api" and record["items"] == sorted(GUARDIAN_ITEMS)
    [kept] = [
        c
        for c in await school.get(f"/v1/sessions/{session['id']}/consents")
        if c["id"] == record["id"]
    ]
    assert kept["text_hash"] == shown["sha256"]


async def test_a_missing_item_is_named_and_nothing_is_recorded(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await minor_and_adult_session(school)
    token = token_of(await ask(school, session), session["adult"]["id"])
    before = await consents_count(apps["api"])
    items = [i for i in STUDENT_ITEMS if i != "no_recording"]
    refused = await school.api.post(f"/v1/consent/{token}", json=grant(tuple(items)))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "acknowledged_items",
            "reason": ("to give consent, acknowledge every item; missing: no_recording"),
        }
    ]
    assert await consents_count(apps["api"]) == before


async def test_a_used_an_expired_and_a_forged_link(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    token = token_of(asked, session["adult"]["id"])
    assert (await school.api.post(f"/v1/consent/{token}", json=grant())).status_code == 201
    reused = await school.api.post(f"/v1/consent/{token}", json=grant())
    assert reused.status_code == 410 and reused.json()["type"].endswith("consent-link-gone")

    open_token = token_of(asked, session["minor"]["id"])
    request_id = uuid.UUID(str(apps["api"].state.consent_tokens.read(open_token).request_id))
    expired = apps["api"].state.consent_tokens.issue(
        request_id, datetime.now(UTC) - timedelta(minutes=1)
    )
    before = await consents_count(apps["api"])
    assert (await school.api.post(f"/v1/consent/{expired}", json=grant())).status_code == 410
    head, payload, signature = open_token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for forged in (f"{head}.{payload}.{flipped}", "not-a-token"):
        answer = await school.api.post(f"/v1/consent/{forged}", json=grant())
        assert answer.status_code == 404
        assert (await school.api.get(f"/v1/consent/{forged}")).status_code == 404
    assert await consents_count(apps["api"]) == before


async def test_a_decline_is_recorded_and_clears_no_one(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    token = token_of(await ask(school, session), session["adult"]["id"])
    declined = await school.api.post(
        f"/v1/consent/{token}",
        json={"decision": "decline", "acknowledged_items": [], "signer_name": "Adult"},
    )
    assert declined.status_code == 201 and declined.json()["decision"] == "declined"
    view = (await school.api.get(f"/v1/consent/{token}")).json()
    assert (view["status"], view["decision"], view["withdrawn"]) == ("answered", "declined", False)
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, session["adult"]["id"])["cleared"] is False


async def test_a_minor_needs_their_own_assent_and_the_guardians_consent(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    minor = session["minor"]["id"]
    await school.api.post(
        f"/v1/consent/{token_of(asked, session['guardian']['id'])}", json=grant(GUARDIAN_ITEMS)
    )
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert codes(member(gate, minor)["missing"]) == ["student_consent_missing"]
    await school.api.post(f"/v1/consent/{token_of(asked, minor)}", json=grant())
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, minor)["cleared"] is True


async def test_withdrawing_from_the_link_takes_effect_at_once(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    token = token_of(await ask(school, session), session["adult"]["id"])
    await school.api.post(f"/v1/consent/{token}", json=grant())
    gone = await school.api.post(f"/v1/consent/{token}/withdraw", json={"reason": "Ragu"})
    assert gone.status_code == 200 and gone.json()["withdrawn"] is True
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, session["adult"]["id"])["cleared"] is False
    view = (await school.api.get(f"/v1/consent/{token}")).json()
    assert view["decision"] == "granted" and view["withdrawn"] is True
    assert (await school.api.post(f"/v1/consent/{token}/withdraw")).status_code == 404


async def test_a_student_cannot_withdraw_a_guardians_consent(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    minor = session["minor"]["id"]
    await school.api.post(
        f"/v1/consent/{token_of(asked, session['guardian']['id'])}", json=grant(GUARDIAN_ITEMS)
    )
    as_minor = {"Authorization": f"Bearer {await school.token_for(minor)}"}
    refused = await school.api.post(
        f"/v1/sessions/{session['id']}/consents/{minor}/withdraw", headers=as_minor
    )
    assert refused.status_code == 404
    records = await school.get(f"/v1/sessions/{session['id']}/consents")
    assert all(r["withdrawn_at"] is None for r in records)


async def test_a_changed_platform_voids_consent_and_asks_again(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    first = await ask(school, session)
    adult = session["adult"]["id"]
    await school.api.post(f"/v1/consent/{token_of(first, adult)}", json=grant())
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "zoom"}, headers=school.auth
    )
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, adult)["cleared"] is False
    second = await ask(school, session)
    assert {r["status"] for r in second["requests"]} == {"open"}
    stale = token_of(first, session["minor"]["id"])
    assert (await school.api.post(f"/v1/consent/{stale}", json=grant())).status_code == 410
    assert (await school.api.get(f"/v1/consent/{token_of(second, adult)}")).json()["session"][
        "platform"
    ] == "zoom"


async def test_a_new_text_version_needs_consent_again(school: SchoolKit) -> None:
    session = await minor_and_adult_session(school)
    first = await ask(school, session)
    adult = session["adult"]["id"]
    await school.api.post(f"/v1/consent/{token_of(first, adult)}", json=grant())
    answered = await ask(school, session)
    assert next(r for r in answered["requests"] if r["signer_id"] == adult)["url"] is None
    version = await school.post(
        "/v1/school/consent-texts",
        {
            "wording": {
                "id": {
                    "items": {
                        "emergency_contact": [
                            "Darurat",
                            "Telepon Bu Rina: 0812-0000-0000, atau 112.",
                        ]
                    }
                }
            }
        },
    )
    assert version["version"] == "school-1"
    gate = (await school.get(f"/v1/sessions/{session['id']}"))["gate"]
    assert member(gate, adult)["cleared"] is False
    again = await ask(school, session)
    text = (await school.api.get(f"/v1/consent/{token_of(again, adult)}?lang=id")).json()["text"]
    assert text["version"] == "school-1"
    assert text["items"][-1]["text"].startswith("Telepon Bu Rina")


async def test_a_schools_wording_with_a_broken_placeholder_is_refused(school: SchoolKit) -> None:
    refused = await school.post(
        "/v1/school/consent-texts",
        {"wording": {"en": {"intro_student": "Hello {nonsense}"}}},
        expect=422,
    )
    assert refused["errors"][0]["field"] == "wording.en"
    unknown = await school.post(
        "/v1/school/consent-texts", {"wording": {"fr": {"title": "x"}}}, expect=422
    )
    assert unknown["errors"][0]["field"] == "wording"


async def test_a_student_and_a_guardian_see_what_is_kept_about_them(
    school: SchoolKit, api: httpx.AsyncClient
) -> None:
    session = await minor_and_adult_session(school)
    asked = await ask(school, session)
    await school.api.post(
        f"/v1/consent/{token_of(asked, session['guardian']['id'])}",
        json=grant(GUARDIAN_ITEMS, signer_name="Ibu Dewi"),
    )
    as_minor = {"Authorization": f"Bearer {await school.token_for(session['minor']['id'])}"}
    mine = (await api.get("/v1/me/data", headers=as_minor)).json()
    assert mine["person"]["name"] == "Dewi <Minor>"
    assert [g["relationship"] for g in mine["guardians"]] == ["mother"]
    assert [c["signer"] for c in mine["consents"]] == ["guardian"]
    assert [s["id"] for s in mine["sessions"]] == [session["id"]]
    as_guardian = {"Authorization": f"Bearer {await school.token_for(session['guardian']['id'])}"}
    theirs = (await api.get("/v1/me/data", headers=as_guardian)).json()
    assert [w["id"] for w in theirs["guardian_of"]] == [session["minor"]["id"]]
    assert (await api.get("/v1/me/data", headers=school.auth)).status_code == 403


async def test_changing_platform_or_text_asks_everyone_again_by_itself(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    session = await minor_and_adult_session(school)
    await ask(school, session)

    async def requests_sent() -> int:
        found = await notifications_about(apps["notifications"], session["id"])
        return sum(1 for event, _, _ in found if event == "consent_requested")

    await eventually(lambda: _at_least(requests_sent, 4))
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "zoom"}, headers=school.auth
    )
    await eventually(lambda: _at_least(requests_sent, 8))
    await school.post(
        "/v1/school/consent-texts",
        {
            "emergency_contact": {
                "id": "Hubungi Bu Rina, 0812-0000-0000.",
                "en": "Call Bu Rina, 0812-0000-0000.",
            }
        },
    )
    await eventually(lambda: _at_least(requests_sent, 12))
    texts = {
        (await school.api.get(f"/v1/consent/{r['url'].rsplit('/', 1)[1]}")).json()["text"][
            "version"
        ]
        for r in (await ask(school, session))["requests"]
    }
    assert texts == {"school-1"}


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)
