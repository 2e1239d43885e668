"""The thin slice inside one process: the quickest proof that the wiring holds."""

from __future__ import annotations

import asyncio

import httpx

from tests.factories import SchoolKit


async def wait_for(check, seconds: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_entering_preparation_provisions_a_jitsi_room_and_tells_the_counselor(
    school: SchoolKit, notifications: httpx.AsyncClient
) -> None:
    session = await school.session()
    sid = session["id"]
    await school.api.put(
        f"/v1/sessions/{sid}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    moved = await school.post(f"/v1/sessions/{sid}/transitions", {"to": "preparation"}, expect=200)
    assert moved["stage"] == "preparation"

    async def provisioned():  # type: ignore[no-untyped-def]
        got = await school.get(f"/v1/sessions/{sid}")
        return got["meeting"]

    await wait_for(provisioned)
    meeting = await school.get(f"/v1/sessions/{sid}/meeting")
    assert meeting["provider"] == "jitsi"
    assert meeting["host_url"].startswith("https://jitsi.example.sch.id/Lingkar")
    assert len(meeting["host_url"].rsplit("/", 1)[1]) >= 26
