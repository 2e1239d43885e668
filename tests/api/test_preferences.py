"""A person's notification preferences over the api, and the school's WhatsApp templates."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox.models import OutboxMessage
from services.api.sessions.notify import NOTIFY, NOTIFY_TOGETHER
from services.notifications.notifications.models import Delivery, Notification
from tests.factories import SchoolKit, bearer, eventually

PROBLEM_JSON = "application/problem+json"


async def deliveries_about(app: FastAPI, session_id: str) -> list[tuple[Notification, Delivery]]:
    async with AsyncSession(app.state.engine) as db:
        rows = await db.exec(
            select(Notification, Delivery)
            .join(Delivery, Delivery.notification_id == Notification.id)  # type: ignore[arg-type]
            .where(Notification.session_id == uuid.UUID(session_id))
        )
        return list(rows.all())


async def recipients_sent(app: FastAPI, session_id: str) -> list[dict[str, Any]]:
    """The recipients of the api's notification requests about a session, as sent."""
    async with AsyncSession(app.state.engine) as db:
        query = select(OutboxMessage).where(col(OutboxMessage.kind).in_([NOTIFY, NOTIFY_TOGETHER]))
        rows = await db.exec(query)
        requests = [
            n
            for m in rows.all()
            for n in (m.payload["notifications"] if m.kind == NOTIFY_TOGETHER else [m.payload])
        ]
        return [r for n in requests if n.get("session_id") == session_id for r in n["recipients"]]


async def student_with_every_address(school: SchoolKit, name: str) -> dict[str, Any]:
    return await school.user(
        "student",
        name,
        email=f"{name.lower()}@siswa.example",
        phone="+6281234567" + str(len(name)),
        birth_date="2000-01-01",
    )


@pytest.mark.usefixtures("channels_configured")
async def test_a_student_puts_email_first_and_the_next_consent_request_follows_their_order(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    counselor = await school.user("counselor")
    dewi = await student_with_every_address(school, "Dewi")
    budi = await student_with_every_address(school, "Budi")
    as_dewi = bearer(await school.token_for(dewi["id"]))
    chosen = {"channels": ["email", "whatsapp"], "opt_out_non_essential": True}

    put = await school.api.put("/v1/me/preferences", json=chosen, headers=as_dewi)
    got = await school.api.get("/v1/me/preferences", headers=as_dewi)

    assert put.status_code == 200, put.text
    assert got.json() == {**chosen, "order": ["email", "whatsapp"]}
    group = await school.post(
        "/v1/groups",
        {
            "name": "Kelompok",
            "counselor_id": counselor["id"],
            "field": "career",
            "member_ids": [dewi["id"], budi["id"]],
        },
    )
    session = await school.session(group)
    await school.api.put(
        f"/v1/sessions/{session['id']}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    await school.post(f"/v1/sessions/{session['id']}/consent-requests", {})

    async def both() -> Any:
        found = await deliveries_about(apps["notifications"], session["id"])
        return found if len(found) >= 2 else None

    by_person = {str(d.person_id): (n, d) for n, d in await eventually(both)}
    notification, to_dewi = by_person[dewi["id"]]
    assert (to_dewi.channel, to_dewi.address) == ("email", dewi["email"])
    assert to_dewi.fallbacks == [["whatsapp", dewi["phone"]]]
    assert to_dewi.status == "pending"  # a consent request is essential: opting out keeps it
    _, to_budi = by_person[budi["id"]]
    assert (to_budi.channel, to_budi.fallbacks) == ("whatsapp", [["email", budi["email"]]])
    assert notification.report_to is not None
    assert notification.report_to["person_id"] == counselor["id"]
    sent_for = {r["person_id"]: r for r in await recipients_sent(apps["api"], session["id"])}
    assert sent_for[dewi["id"]]["opt_out_non_essential"] is True
    assert sent_for[budi["id"]]["opt_out_non_essential"] is False
    assert sent_for[budi["id"]]["channels"] is None


async def test_a_school_admin_sets_someones_preferences_and_no_other_school_reaches_them(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    guardian = await school.user("guardian", email="ibu@example.id", telegram_chat_id="5550001")
    path = f"/v1/users/{guardian['id']}/preferences"

    before = await school.get(path)
    changed = await school.api.put(path, json={"channels": ["email"]}, headers=school.auth)
    elsewhere_get = await other_school.api.get(path, headers=other_school.auth)
    elsewhere_put = await other_school.api.put(
        path, json={"channels": ["telegram"]}, headers=other_school.auth
    )

    assert before == {
        "channels": None,
        "order": ["telegram", "email"],
        "opt_out_non_essential": False,
    }
    assert changed.status_code == 200
    assert changed.json()["order"] == ["email"]
    assert (elsewhere_get.status_code, elsewhere_put.status_code) == (404, 404)
    assert (await school.get(path))["channels"] == ["email"]


async def test_a_student_may_not_set_someone_elses_preferences(school: SchoolKit) -> None:
    dewi = await school.user("student")
    budi = await school.user("student")
    as_dewi = bearer(await school.token_for(dewi["id"]))

    answer = await school.api.put(
        f"/v1/users/{budi['id']}/preferences", json={"channels": ["email"]}, headers=as_dewi
    )

    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM_JSON


async def test_a_school_admin_client_acting_for_nobody_has_no_own_preferences(
    school: SchoolKit,
) -> None:
    answer = await school.api.get("/v1/me/preferences", headers=school.auth)

    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "exchange" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channels": ["email", "sms"]}, "channels.1"),
        ({"channels": ["email", "email"]}, "channels"),
        ({"channels": []}, "channels"),
        ({"opt_out_non_essential": "maybe"}, "opt_out_non_essential"),
    ],
    ids=["unknown-channel", "twice", "empty", "not-a-boolean"],
)
async def test_bad_preferences_are_refused_naming_the_field(
    body: dict[str, Any], field: str, school: SchoolKit
) -> None:
    student = await school.user("student")
    as_student = bearer(await school.token_for(student["id"]))

    answer = await school.api.put("/v1/me/preferences", json=body, headers=as_student)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert (await school.api.get("/v1/me/preferences", headers=as_student)).json()[
        "channels"
    ] is None


async def test_a_school_names_its_whatsapp_template_and_another_school_keeps_the_default(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    template = {
        "name": "persetujuan_bk",
        "language": "id",
        "body_parameters": ["name", "title", "expires"],
        "button_url_base": "https://lingkar.sekolah.sch.id/v1/consent/",
    }

    answer = await school.api.put(
        "/v1/school/whatsapp-templates/consent_requested", json=template, headers=school.auth
    )
    ours = {t["event"]: t for t in await school.get("/v1/school/whatsapp-templates")}
    theirs = {t["event"]: t for t in await other_school.get("/v1/school/whatsapp-templates")}

    assert answer.status_code == 200, answer.text
    assert ours["consent_requested"] == {
        **template,
        "link_button": True,
        "event": "consent_requested",
        "configured": True,
    }
    assert theirs["consent_requested"]["name"] == "lingkar_consent_requested"
    assert theirs["consent_requested"]["configured"] is False
    assert ours["session_cancelled"]["link_button"] is False  # a default without a link


async def test_whatsapp_templates_are_for_school_admins_and_known_events_only(
    school: SchoolKit,
) -> None:
    counselor = await school.user("counselor")
    as_counselor = bearer(await school.token_for(counselor["id"]))

    unknown = await school.api.put(
        "/v1/school/whatsapp-templates/birthday", json={"name": "ulang_tahun"}, headers=school.auth
    )
    not_admin = await school.api.get("/v1/school/whatsapp-templates", headers=as_counselor)

    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in unknown.json()["errors"]] == ["event"]
    assert not_admin.status_code == 403
