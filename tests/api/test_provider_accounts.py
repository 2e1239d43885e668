"""A school's provider accounts: write-only secrets, encrypted at rest, never shown or logged."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import threading
import time
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.accounts.models import ProviderAccount
from services.meetings.accounts.service import SecretBox
from services.meetings.providers import registry
from services.meetings.providers.accounts import GoogleMeetAccount, ZoomAccount
from shared.stages import Provider
from tests.factories import SchoolKit, bearer

ZOOM_SECRET = "zoom-client-secret-ABCDEF123456"
WEBHOOK_SECRET = "zoom-webhook-token-XYZ987"


def service_account_json() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "client_email": "lingkar@sekolah.iam",
            "private_key": pem,
            "token_uri": "https://oauth2.googleapis.com/token",
            "private_key_id": "k1",
            "project_id": "p",
            "client_id": "1",
        }
    )


async def stored(apps: dict[str, FastAPI], school_id: uuid.UUID, provider: str) -> ProviderAccount:
    async with AsyncSession(apps["meetings"].state.engine) as db:
        return (
            await db.exec(
                select(ProviderAccount).where(
                    ProviderAccount.school_id == school_id, ProviderAccount.provider == provider
                )
            )
        ).one()


async def test_a_school_admin_sets_zoom_and_the_secrets_never_come_back(
    school: SchoolKit, apps: dict[str, FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await school.api.put(
        "/v1/school/providers/zoom",
        headers=school.auth,
        json={
            "account_id": "acc-1",
            "client_id": "cid-1",
            "client_secret": ZOOM_SECRET,
            "host_user": "bk@sekolah.sch.id",
            "webhook_secret_token": WEBHOOK_SECRET,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"provider": "zoom", "configured": True}
    listed = await school.api.get("/v1/school/providers", headers=school.auth)
    zoom = next(p for p in listed.json() if p["provider"] == "zoom")
    assert zoom == {
        "provider": "zoom",
        "configured": True,
        "usable": True,
        "details": {"account_id": "acc-1", "client_id": "cid-1", "host_user": "bk@sekolah.sch.id"},
    }
    jitsi = next(p for p in listed.json() if p["provider"] == "jitsi")
    assert (jitsi["configured"], jitsi["usable"]) == (False, True)
    for text in (answer.text, listed.text, caplog.text):
        assert ZOOM_SECRET not in text and WEBHOOK_SECRET not in text

    row = await stored(apps, school.school_id, "zoom")
    assert ZOOM_SECRET not in row.secrets and ZOOM_SECRET not in json.dumps(row.settings)
    box: SecretBox = apps["meetings"].state.secret_box
    assert box.open(row.secrets) == {
        "client_secret": ZOOM_SECRET,
        "webhook_secret_token": WEBHOOK_SECRET,
    }
    secret = await apps["meetings"].state.zoom_webhook_secret(school.school_id)
    assert secret == WEBHOOK_SECRET


async def test_a_google_service_account_is_checked_and_kept_encrypted(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    key_file = service_account_json()
    refused = await school.api.put(
        "/v1/school/providers/google_meet",
        headers=school.auth,
        json={"service_account_json": '{"type": "user"}'},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "service_account_json"
    saved = await school.api.put(
        "/v1/school/providers/google_meet",
        headers=school.auth,
        json={"service_account_json": key_file},
    )
    assert saved.status_code == 200
    assert "PRIVATE KEY" not in saved.text
    from services.meetings.accounts import service as accounts

    async with AsyncSession(apps["meetings"].state.engine) as db:
        account = await accounts.load(
            db=db,
            box=apps["meetings"].state.secret_box,
            school_id=school.school_id,
            provider=Provider.google_meet,
        )
    assert isinstance(account, GoogleMeetAccount)
    assert account.service_account_info["client_email"] == "lingkar@sekolah.iam"
    assert "PRIVATE KEY" not in repr(account)


def google_settings() -> dict[str, str]:
    return {"service_account_json": service_account_json()}


def jaas_settings() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "jaas_app_id": "vpaas-magic-cookie-0123abcd",
        "jaas_key_id": "4f4910",
        "jaas_private_key": pem,
    }


@pytest.mark.parametrize(
    ("provider", "settings", "module"),
    [
        (Provider.google_meet, google_settings, "GOOGLE_MEET"),
        (Provider.jitsi, jaas_settings, "JAAS"),
    ],
    ids=["google-sdk", "jaas-joserfc"],
)
async def test_a_providers_library_is_first_imported_off_the_event_loop(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    settings: Any,
    module: str,
) -> None:
    """The Google SDK (about 15 MB) and joserfc (2.6 MB, 8x8 JaaS's RS256) load when a school
    first uses them, in a thread: every request of the process would wait for the import.
    Requests arriving during that import (a class clicking at once) wait for the same one."""
    saved = await school.api.put(
        f"/v1/school/providers/{provider.value}", headers=school.auth, json=settings()
    )
    assert saved.status_code == 200, saved.text
    name = getattr(registry, module)
    threads: list[str] = []
    real = importlib.import_module

    def recording(name: str, package: str | None = None) -> Any:
        threads.append(threading.current_thread().name)
        time.sleep(0.2)  # a slow import: the other request comes while it runs
        return real(name, package)

    # As in a process that has not used this provider yet.
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(registry.importlib, "import_module", recording)
    providers = apps["meetings"].state.providers
    adapters = await asyncio.gather(
        *(providers(provider, school.school_id, host_email="sari@sekolah.sch.id") for _ in "ab")
    )
    assert len(threads) == 1 and threads != [threading.main_thread().name], threads
    assert {type(adapter._adapter).__module__ for adapter in adapters} == {name}


async def test_an_import_that_failed_is_tried_again_by_the_next_request(
    apps: dict[str, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    providers = apps["meetings"].state.providers
    attempts: list[str] = []
    real = importlib.import_module

    def failing_once(name: str, package: str | None = None) -> Any:
        attempts.append(name)
        if len(attempts) == 1:
            raise ImportError(f"{name}: the disk hiccuped")
        return real(name, package)

    monkeypatch.delitem(sys.modules, registry.JAAS, raising=False)
    monkeypatch.setattr(registry.importlib, "import_module", failing_once)
    with pytest.raises(ImportError):
        await providers._imported(registry.JAAS)
    monkeypatch.delitem(sys.modules, registry.JAAS, raising=False)
    await providers._imported(registry.JAAS)
    assert attempts == [registry.JAAS, registry.JAAS]
    assert registry.JAAS in sys.modules


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"server_url": "https://jitsi.sekolah.sch.id", "app_id": "lingkar"}, "both app_id"),
        ({"jaas_app_id": "vpaas-magic-cookie-abc123"}, "8x8 JaaS needs"),
        ({}, "give server_url"),
        ({"server_url": "http://insecure.example"}, "should match pattern"),
        (
            {
                "server_url": "https://jitsi.sekolah.sch.id",
                "app_id": "lingkar",
                "app_secret": "x" * 31,
            },
            "app_secret: Value error, must be at least 32 characters",
        ),
    ],
)
async def test_jitsi_settings_must_be_whole(
    school: SchoolKit, body: dict[str, str], reason: str
) -> None:
    answer = await school.api.put("/v1/school/providers/jitsi", headers=school.auth, json=body)
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]


async def test_a_jitsi_app_secret_is_refused_when_short_and_never_echoed(school: SchoolKit) -> None:
    """HS256 signs every member's token with it: a member could guess a short one offline from
    their own token and sign a moderator's."""
    body = {"server_url": "https://jitsi.sekolah.sch.id", "app_id": "lingkar"}
    short = "rahasia-pendek-0123456789abcdef"  # 31 characters

    refused = await school.api.put(
        "/v1/school/providers/jitsi", headers=school.auth, json={**body, "app_secret": short}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["app_secret"]
    assert "at least 32 characters" in refused.json()["errors"][0]["reason"]
    assert short not in refused.text

    secret = short + "9"
    saved = await school.api.put(
        "/v1/school/providers/jitsi", headers=school.auth, json={**body, "app_secret": secret}
    )
    assert saved.status_code == 200, saved.text
    assert secret not in saved.text


async def test_only_the_school_admin_and_only_their_school(
    school: SchoolKit, other_school: SchoolKit
) -> None:
    await school.api.put(
        "/v1/school/providers/jitsi",
        headers=school.auth,
        json={"server_url": "https://jitsi.sekolah.sch.id"},
    )
    counselor = await school.user("counselor")
    as_counselor = bearer(await school.token_for(counselor["id"]))
    assert (await school.api.get("/v1/school/providers", headers=as_counselor)).status_code == 403
    theirs = await other_school.api.get("/v1/school/providers", headers=other_school.auth)
    assert all(not p["configured"] for p in theirs.json())


def test_keys_rotate_the_newest_encrypts_and_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = SecretBox(SecretStr(old)).seal({"client_secret": "s"})
    rotated = SecretBox(SecretStr(f"{new},{old}"))
    assert rotated.open(sealed_before) == {"client_secret": "s"}
    sealed_after = rotated.seal({"client_secret": "t"})
    assert SecretBox(SecretStr(new)).open(sealed_after) == {"client_secret": "t"}


def test_an_account_object_never_shows_its_secrets() -> None:
    account = ZoomAccount(
        account_id="a",
        client_id="c",
        client_secret=ZOOM_SECRET,
        webhook_secret_token=WEBHOOK_SECRET,
    )
    assert ZOOM_SECRET not in repr(account) and WEBHOOK_SECRET not in repr(account)
