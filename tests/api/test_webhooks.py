"""A school admin manages the school's webhook subscriptions through the api.

The api passes them to the notifications service over HTTP (in-process here); these tests go
through the public routes, and look into the notifications database only to see how the
secret is kept.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.observability import JsonFormatter
from tests import capture
from tests.factories import SchoolKit, bearer
from tests.notifications.webhook_support import stored_subscription

PATH = "/v1/school/webhooks"
# A public address (an IP literal, so no DNS is needed); nothing is sent in these tests.
PUBLIC_URL = "https://1.1.1.1/lingkar/hooks"
PROBLEM_JSON = "application/problem+json"


async def subscribe(school: SchoolKit, **overrides: Any) -> dict[str, Any]:
    body = {"url": PUBLIC_URL, "events": ["consent_requested"], **overrides}
    return dict(await school.post(PATH, body))


async def test_a_new_subscription_shows_its_secret_once_and_never_again(
    school: SchoolKit, apps: dict[str, FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every line the services would write, to search
    logged_before = len(capture.RECORDS)
    made = await subscribe(school, description="Sistem informasi sekolah")

    secret = made["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert made["enabled"] is True and made["events"] == ["consent_requested"]
    listed = await school.get(PATH)
    one = await school.get(f"{PATH}/{made['id']}")
    assert [s["id"] for s in listed] == [made["id"]]
    assert "secret" not in listed[0] and "secret" not in one
    assert one["description"] == "Sistem informasi sekolah"
    for answer in (str(listed), str(one)):
        assert secret not in answer and secret.removeprefix("whsec_") not in answer
    # At rest it is sealed with the service's key, not kept as given.
    row = await stored_subscription(apps["notifications"], made["id"])
    assert secret not in row.sealed_secret
    assert apps["notifications"].state.webhook_box.open(row.sealed_secret) == {"secret": secret}
    logged = [JsonFormatter("check").format(r) for r in capture.RECORDS[logged_before:]]
    assert logged and not [line for line in logged if secret.removeprefix("whsec_") in line]


async def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_for_a_day(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    made = await subscribe(school)
    rotated = await school.post(f"{PATH}/{made['id']}/rotate-secret", {}, expect=200)

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    shown = await school.get(f"{PATH}/{made['id']}")
    assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    assert "secret" not in shown


async def test_a_subscription_can_be_changed_paused_and_removed(school: SchoolKit) -> None:
    made = await subscribe(school)
    url = f"{PATH}/{made['id']}"

    changed = await school.api.patch(
        url,
        json={"events": ["session_cancelled", "webhook.test"], "enabled": False},
        headers=school.auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["session_cancelled", "webhook.test"]
    assert changed.json()["enabled"] is False and changed.json()["url"] == PUBLIC_URL
    gone = await school.api.delete(url, headers=school.auth)
    assert gone.status_code == 204
    await school.get(url, expect=404)
    assert await school.get(PATH) == []


async def test_a_test_event_is_queued_with_the_webhook_id_it_will_carry(
    school: SchoolKit,
) -> None:
    made = await subscribe(school)
    queued = await school.post(f"{PATH}/{made['id']}/test", {}, expect=202)
    assert queued["status"] == "queued" and queued["webhook_id"].startswith("msg_")


async def test_another_schools_subscription_is_not_found_whatever_is_asked(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    theirs = await subscribe(other_school)
    url = f"{PATH}/{theirs['id']}"
    auth = school.auth
    answers = [
        await school.api.get(url, headers=auth),
        await school.api.patch(url, json={"enabled": False}, headers=auth),
        await school.api.delete(url, headers=auth),
        await school.api.post(f"{url}/rotate-secret", headers=auth),
        await school.api.post(f"{url}/test", headers=auth),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert all(a.headers["content-type"] == PROBLEM_JSON for a in answers)
    assert await school.get(PATH) == []
    # Theirs is untouched: still enabled, still there.
    assert (await other_school.get(url))["enabled"] is True


async def test_only_a_school_admin_manages_webhooks(school: SchoolKit) -> None:
    counselor = await school.user("counselor")
    as_counselor = bearer(await school.token_for(counselor["id"]))
    answer = await school.api.get(PATH, headers=as_counselor)
    refused = await school.api.post(
        PATH, json={"url": PUBLIC_URL, "events": ["consent_requested"]}, headers=as_counselor
    )
    assert (answer.status_code, refused.status_code) == (403, 403)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"url": "ftp://sis.sekolah.sch.id/hooks"}, "url", "http:// or https://"),
        ({"url": "not a url"}, "url", "http:// or https://"),
        ({"url": "https://admin:pw@sis.sekolah.sch.id/"}, "url", "user name or password"),
        ({"events": ["consent_granted"]}, "events", "unknown event 'consent_granted'"),
        ({"events": []}, "events", "at least 1"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    school: SchoolKit, body: dict[str, Any], field: str, reason: str
) -> None:
    answer = await school.api.post(
        PATH, json={"url": PUBLIC_URL, "events": ["consent_requested"], **body}, headers=school.auth
    )
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM_JSON
    [error] = answer.json()["errors"]
    assert error["field"] == field and reason in error["reason"]
    assert "pw@" not in answer.text


NON_PUBLIC = [
    ("http://127.0.0.1:8002/internal/v1/notifications", "loopback"),
    ("http://10.0.0.7/hooks", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:8080/hooks", "loopback"),
    ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("http://localhost:8001/hooks", "loopback"),
]


@pytest.mark.parametrize(("url", "kind"), NON_PUBLIC)
async def test_a_url_to_a_non_public_address_is_refused_when_subscribing(
    school: SchoolKit, url: str, kind: str
) -> None:
    answer = await school.api.post(
        PATH, json={"url": url, "events": ["consent_requested"]}, headers=school.auth
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    [error] = answer.json()["errors"]
    assert error["field"] == "url" and f"({kind})" in error["reason"]
    assert await school.get(PATH) == []


async def test_moving_a_subscription_to_a_private_address_is_refused(school: SchoolKit) -> None:
    made = await subscribe(school)
    answer = await school.api.patch(
        f"{PATH}/{made['id']}", json={"url": "http://192.168.1.10/hooks"}, headers=school.auth
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "url"
    assert (await school.get(f"{PATH}/{made['id']}"))["url"] == PUBLIC_URL


async def test_a_host_that_does_not_resolve_is_refused(school: SchoolKit) -> None:
    answer = await school.api.post(
        PATH,
        json={"url": f"https://{uuid.uuid4().hex}.invalid/hooks", "events": ["consent_requested"]},
        headers=school.auth,
    )
    assert answer.status_code == 422 and "does not resolve" in answer.json()["detail"]


async def test_the_openapi_document_describes_the_payloads(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    create = document["paths"][PATH]["post"]
    assert "webhook-signature" in create["description"]
    assert "consent_requested" in create["description"]
    events = document["components"]["schemas"]["WebhookSubscriptionIn"]["properties"]["events"]
    assert "webhook.test" in events["items"]["enum"]
