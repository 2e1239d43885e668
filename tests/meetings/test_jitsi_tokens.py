"""Jitsi with token auth: everyone enters with their own JWT, the counselor's as moderator.

Tokens are read back with joserfc and the school's key (the app secret, or the JaaS public key),
as the Jitsi server would read them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey, RSAKey

from services.meetings.providers.accounts import JaasAccount, JitsiAccount
from services.meetings.providers.base import ProviderMeeting, fresh_host_url
from services.meetings.providers.errors import ProviderRefused
from services.meetings.providers.jaas import JAAS_FEATURES, JaasProvider
from services.meetings.providers.jitsi import (
    ROOM_PREFIX,
    JitsiProvider,
    JitsiTokenProvider,
    jitsi_provider,
)
from shared.contracts.meetings import Clearance, Host, ProvisionRequest, RescheduleRequest
from shared.stages import Provider

SERVER = "https://meet.sman1-contoh.sch.id"
APP_ID = "lingkar"
APP_SECRET = "a-long-app-secret-shared-with-prosody-0000000"
JAAS_APP = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef"
JAAS_KEY_ID = "4f4910"
START = datetime(2026, 12, 7, 1, 45, tzinfo=UTC)  # 08:45 WIB
DURATION = 60
ROOM = re.compile(rf"^{ROOM_PREFIX}[A-Z2-7]{{26}}$")

HOST = Host(person_id=uuid.uuid4(), name="Ibu Sri Wahyuni", email="sri@sman1-contoh.sch.id")


@pytest.fixture(scope="module")
def jaas_key() -> RSAKey:
    return RSAKey.generate_key(2048)


def provision(start: datetime = START) -> ProvisionRequest:
    session_id = uuid.uuid4()
    return ProvisionRequest(
        school_id=uuid.uuid4(),
        session_id=session_id,
        provider=Provider.jitsi,
        title="Bimbingan kelompok",
        scheduled_start=start,
        duration_minutes=DURATION,
        timezone="Asia/Jakarta",
        host=HOST,
        clearance=Clearance(session_id=session_id, platform=Provider.jitsi, text_version="t-3"),
    )


def own_server() -> JitsiTokenProvider:
    return JitsiTokenProvider(JitsiAccount(server_url=SERVER, app_id=APP_ID, app_secret=APP_SECRET))


def jaas(key: RSAKey, **features: bool) -> JaasProvider:
    pem = key.as_pem(private=True).decode()
    return JaasProvider(
        JaasAccount(app_id=JAAS_APP, key_id=JAAS_KEY_ID, private_key=pem, features=features)
    )


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["jwt"][0]


def read(url: str, key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    token = jwt.decode(token_of(url), key)
    return dict(token.header), dict(token.claims)


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def with_time(meeting: ProviderMeeting, start: datetime = START) -> ProviderMeeting:
    """The meeting as provider_meeting() hands it over: with its time from the Meeting row."""
    return replace(meeting, starts_at=start, ends_at=start + timedelta(minutes=DURATION))


async def test_the_counselors_host_url_carries_an_owner_token_for_the_session_window() -> None:
    meeting = await own_server().create(provision())

    assert ROOM.match(meeting.provider_ref)
    assert meeting.host_url.startswith(f"{SERVER}/{meeting.provider_ref}?jwt=")
    header, claims = read(meeting.host_url, OctKey.import_key(APP_SECRET))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims == {
        "iss": APP_ID,
        "aud": "jitsi",
        "sub": "meet.sman1-contoh.sch.id",
        "room": meeting.provider_ref,
        "nbf": timestamp(START - timedelta(minutes=15)),
        "exp": timestamp(START + timedelta(minutes=DURATION + 15)),
        "context": {
            "user": {
                "id": str(HOST.person_id),
                "name": HOST.name,
                "email": HOST.email,
                "affiliation": "owner",
                "moderator": "true",
            }
        },
    }
    assert (meeting.starts_at, meeting.ends_at) == (START, START + timedelta(minutes=DURATION))


async def test_each_member_gets_a_member_token_of_their_own_never_the_hosts() -> None:
    provider = own_server()
    meeting = with_time(await provider.create(provision()))
    host_token = token_of(meeting.host_url)
    key = OctKey.import_key(APP_SECRET)

    ani = await provider.join_link_for(meeting, display_name="Ani", person_key="person-ani")
    budi = await provider.join_link_for(meeting, display_name="Budi", person_key="person-budi")

    for url in (ani, budi):
        assert url.startswith(f"{SERVER}/{meeting.provider_ref}?jwt=")
        assert host_token not in url
        assert url.count("jwt=") == 1
    assert token_of(ani) != token_of(budi)
    _, claims = read(ani, key)
    assert claims["context"] == {
        "user": {"id": "person-ani", "name": "Ani", "affiliation": "member", "moderator": "false"}
    }
    assert claims["room"] == meeting.provider_ref
    assert claims["iss"] == APP_ID
    assert claims["aud"] == "jitsi"
    assert claims["sub"] == "meet.sman1-contoh.sch.id"
    assert claims["nbf"] == timestamp(START - timedelta(minutes=15))
    assert claims["exp"] == timestamp(START + timedelta(minutes=DURATION + 15))
    assert read(budi, key)[1]["context"]["user"]["id"] == "person-budi"


async def test_a_token_signed_with_another_secret_does_not_verify() -> None:
    meeting = await own_server().create(provision())
    with pytest.raises(BadSignatureError):
        read(meeting.host_url, OctKey.import_key("some-other-secret-of-the-same-length-000000"))


async def test_a_server_with_tenants_names_the_tenant_as_subject() -> None:
    account = JitsiAccount(server_url=f"{SERVER}/sman1/", app_id=APP_ID, app_secret=APP_SECRET)
    provider = JitsiTokenProvider(account)
    meeting = with_time(await provider.create(provision()))

    link = await provider.join_link_for(meeting, display_name="Ani", person_key="p-1")
    assert link.startswith(f"{SERVER}/sman1/{meeting.provider_ref}?jwt=")
    assert read(link, OctKey.import_key(APP_SECRET))[1]["sub"] == "sman1"


async def test_after_a_reschedule_tokens_carry_the_new_time() -> None:
    provider = own_server()
    meeting = await provider.create(provision())
    later = START + timedelta(days=1, hours=2)
    await provider.update(
        meeting,
        RescheduleRequest(scheduled_start=later, duration_minutes=DURATION, title="Pindah"),
    )
    moved = with_time(meeting, later)  # what provider_meeting() gives after the reschedule
    key = OctKey.import_key(APP_SECRET)

    member = read(await provider.join_link_for(moved, display_name="Ani", person_key="p"), key)
    host_url = await fresh_host_url(provider, moved)
    host = read(host_url, key)[1]

    for claims in (member[1], host):
        assert claims["nbf"] == timestamp(later - timedelta(minutes=15))
        assert claims["exp"] == timestamp(later + timedelta(minutes=DURATION + 15))
    assert host["context"]["user"] == read(meeting.host_url, key)[1]["context"]["user"]
    assert host_url.startswith(f"{SERVER}/{meeting.provider_ref}?jwt=")


async def test_a_fresh_host_url_never_comes_from_a_members_token() -> None:
    provider = own_server()
    meeting = with_time(await provider.create(provision()))
    member_url = await provider.join_link_for(meeting, display_name="Ani", person_key="p")

    assert await provider.fresh_host_url(replace(meeting, host_url=member_url)) == member_url
    not_ours = replace(meeting, host_url=f"{SERVER}/{meeting.provider_ref}?jwt=forged")
    assert await provider.fresh_host_url(not_ours) == not_ours.host_url


async def test_a_secret_and_a_name_beyond_ascii_sign_and_read_as_prosody_would() -> None:
    """The app secret is its UTF-8 bytes on both sides, and a name in any script survives."""
    secret = "rahasia-sekolah-ÿé-非ASCII-🔑-0000000000"
    account = JitsiAccount(server_url=SERVER, app_id=APP_ID, app_secret=secret)
    provider = JitsiTokenProvider(account)
    meeting = with_time(await provider.create(provision()))
    name = "Ñoño Setiawan 李雷 🙂"

    link = await provider.join_link_for(meeting, display_name=name, person_key="p")

    claims = read(link, OctKey.import_key(secret))[1]
    assert claims["context"]["user"]["name"] == name
    assert provider.read_token(token_of(link))["context"]["user"]["name"] == name
    with pytest.raises(BadSignatureError):
        read(link, OctKey.import_key(secret.encode("utf-8").decode("latin-1")))


async def test_a_jaas_host_url_not_signed_by_the_schools_key_is_left_as_it_is(
    jaas_key: RSAKey,
) -> None:
    """Another key's token, a forged one, a malformed one: the stored URL, never an error."""
    provider = jaas(jaas_key)
    meeting = with_time(await provider.create(provision()))
    other = with_time(await jaas(RSAKey.generate_key(2048)).create(provision()))
    room = f"https://8x8.vc/{JAAS_APP}/{meeting.provider_ref}"

    for host_url in (other.host_url, f"{room}?jwt=forged", f"{room}?jwt=a.b.c"):
        assert await provider.fresh_host_url(replace(meeting, host_url=host_url)) == host_url
    # Its own host URL is read, and made again for the meeting's time as it is now.
    moved = with_time(meeting, START + timedelta(days=1))
    fresh = read(await provider.fresh_host_url(moved), jaas_key)[1]
    assert fresh["nbf"] == timestamp(START + timedelta(days=1) - timedelta(minutes=15))
    assert fresh["context"]["user"]["moderator"] == "true"


async def test_a_member_link_needs_the_meetings_time() -> None:
    provider = own_server()
    meeting = await provider.create(provision())
    without_time = ProviderMeeting(provider_ref=meeting.provider_ref, host_url=meeting.host_url)
    with pytest.raises(ValueError, match="starts_at"):
        await provider.join_link_for(without_time, display_name="Ani", person_key="p")


async def test_jaas_tokens_are_rs256_with_the_key_id_and_features_off(jaas_key: RSAKey) -> None:
    provider = jaas(jaas_key)
    meeting = with_time(await provider.create(provision()))
    public = RSAKey.import_key(jaas_key.as_pem(private=False))

    assert meeting.host_url.startswith(f"https://8x8.vc/{JAAS_APP}/{meeting.provider_ref}?jwt=")
    header, claims = read(meeting.host_url, public)
    assert header == {"alg": "RS256", "kid": f"{JAAS_APP}/{JAAS_KEY_ID}", "typ": "JWT"}
    all_off = dict.fromkeys(JAAS_FEATURES, "false")
    assert claims == {
        "aud": "jitsi",
        "iss": "chat",
        "sub": JAAS_APP,
        "room": meeting.provider_ref,
        "nbf": timestamp(START - timedelta(minutes=15)),
        "exp": timestamp(START + timedelta(minutes=DURATION + 15)),
        "context": {
            "user": {
                "id": str(HOST.person_id),
                "name": HOST.name,
                "email": HOST.email,
                "moderator": "true",
            },
            "features": all_off,
        },
    }
    assert set(JAAS_FEATURES) >= {"recording", "livestreaming", "transcription", "outbound-call"}

    member_url = await provider.join_link_for(meeting, display_name="Ani", person_key="p-ani")
    member_header, member = read(member_url, public)
    assert member_header["kid"] == f"{JAAS_APP}/{JAAS_KEY_ID}"
    assert member["context"] == {
        "user": {"id": "p-ani", "name": "Ani", "moderator": "false"},
        "features": all_off,
    }
    assert token_of(meeting.host_url) not in member_url


async def test_jaas_features_the_school_allows_are_on_for_the_counselor_only(
    jaas_key: RSAKey,
) -> None:
    provider = jaas(jaas_key, recording=True, transcription=False)
    meeting = with_time(await provider.create(provision()))
    public = RSAKey.import_key(jaas_key.as_pem(private=False))

    host = read(meeting.host_url, public)[1]["context"]["features"]
    assert host["recording"] == "true"
    assert {name for name, on in host.items() if on == "true"} == {"recording"}
    member_url = await provider.join_link_for(meeting, display_name="Ani", person_key="p")
    assert set(read(member_url, public)[1]["context"]["features"].values()) == {"false"}


def test_a_jaas_key_that_cannot_sign_is_refused_in_words_an_admin_understands(
    jaas_key: RSAKey,
) -> None:
    for pem in ("not a key", jaas_key.as_pem(private=False).decode()):
        with pytest.raises(ProviderRefused) as refused:
            JaasProvider(JaasAccount(app_id=JAAS_APP, key_id=JAAS_KEY_ID, private_key=pem))
        assert refused.value.status == 409
        assert "JaaS" in refused.value.detail
        assert pem not in refused.value.detail


async def test_the_default_server_makes_an_unguessable_room_without_tokens() -> None:
    provider = JitsiProvider("https://meet.jit.si/")
    first, second = await provider.create(provision()), await provider.create(provision())

    assert ROOM.match(first.provider_ref)
    assert first.provider_ref != second.provider_ref
    assert first.host_url == f"https://meet.jit.si/{first.provider_ref}"
    link = await provider.join_link_for(first, display_name="Ani", person_key="p")
    assert link == f'https://meet.jit.si/{first.provider_ref}#userInfo.displayName="Ani"'
    assert "jwt" not in first.host_url + link
    assert await fresh_host_url(provider, first) == first.host_url


def test_the_school_account_picks_the_adapter(jaas_key: RSAKey) -> None:
    default = "https://meet.jit.si"
    assert isinstance(jitsi_provider(None, default_url=default), JitsiProvider)
    plain = jitsi_provider(JitsiAccount(server_url=SERVER), default_url=default)
    assert isinstance(plain, JitsiProvider)
    assert plain.server_url == SERVER
    tokens = JitsiAccount(server_url=SERVER, app_id=APP_ID, app_secret=APP_SECRET)
    assert isinstance(jitsi_provider(tokens, default_url=default), JitsiTokenProvider)
    pem = jaas_key.as_pem(private=True).decode()
    account = JaasAccount(app_id=JAAS_APP, key_id=JAAS_KEY_ID, private_key=pem)
    assert isinstance(jitsi_provider(account, default_url=default), JaasProvider)


def test_no_secret_shows_in_an_adapters_repr(jaas_key: RSAKey) -> None:
    pem = jaas_key.as_pem(private=True).decode()
    shown = repr(own_server()) + repr(jaas(jaas_key))
    assert APP_SECRET not in shown
    assert "PRIVATE KEY" not in shown
    assert pem.splitlines()[1] not in shown
