"""GET /v1/sessions: keyset pages, filters, and each role's own view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import SchoolKit

BASE = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


async def sessions_at(school: SchoolKit, group: dict[str, Any], hours: list[int]) -> list[str]:
    made = []
    for h in hours:
        start = (BASE + timedelta(hours=h)).isoformat()
        made.append((await school.session(group, scheduled_start=start))["id"])
    return made


async def all_pages(school: SchoolKit, query: str, auth: dict[str, str] | None = None) -> list[Any]:
    items, cursor, pages = [], None, 0
    while True:
        url = f"/v1/sessions?{query}" + (f"&cursor={cursor}" if cursor else "")
        page = await school.api.get(url, headers=auth or school.auth)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return [items, pages]


async def test_pages_follow_the_start_time_without_repeats_or_gaps(school: SchoolKit) -> None:
    group = await school.group(members=2)
    # Two at the same instant: the id breaks the tie, so neither is lost between pages.
    made = await sessions_at(school, group, [5, 1, 3, 3, 2, 4, 0])
    items, pages = await all_pages(school, f"group_id={group['id']}&limit=2")
    assert pages == 4
    assert sorted(i["id"] for i in items) == sorted(made)
    starts = [datetime.fromisoformat(i["scheduled_start"]) for i in items]
    assert starts == sorted(starts)


async def test_filters_by_stage_and_time_range(school: SchoolKit) -> None:
    group = await school.group(members=2)
    early, middle, late = await sessions_at(school, group, [0, 10, 20])
    await school.api.put(
        f"/v1/sessions/{middle}/platform", json={"provider": "jitsi"}, headers=school.auth
    )
    await school.post(f"/v1/sessions/{middle}/transitions", {"to": "preparation"}, expect=200)
    after = (BASE + timedelta(hours=5)).isoformat().replace("+", "%2B")
    before = (BASE + timedelta(hours=15)).isoformat().replace("+", "%2B")
    [items, _] = await all_pages(
        school, f"group_id={group['id']}&starts_after={after}&starts_before={before}"
    )
    assert [i["id"] for i in items] == [middle]
    [items, _] = await all_pages(school, f"group_id={group['id']}&stage=preparation")
    assert [i["id"] for i in items] == [middle]
    [items, _] = await all_pages(school, f"group_id={group['id']}&stage=pre_preparation")
    assert sorted(i["id"] for i in items) == sorted([early, late])


async def test_a_counselor_lists_their_own_sessions_and_a_student_those_they_are_in(
    school: SchoolKit,
) -> None:
    mine = await school.group(members=2)
    theirs = await school.group(members=2)
    [own] = await sessions_at(school, mine, [1])
    await sessions_at(school, theirs, [2])
    counselor = await school.token_for(mine["counselor"]["id"])
    [items, _] = await all_pages(school, "limit=100", {"Authorization": f"Bearer {counselor}"})
    assert [i["id"] for i in items] == [own]
    student = await school.token_for(mine["members"][0]["student_id"])
    [items, _] = await all_pages(school, "limit=100", {"Authorization": f"Bearer {student}"})
    assert [i["id"] for i in items] == [own]
    only_me = [mine["members"][0]["student_id"]]
    assert [m["student_id"] for m in items[0]["gate"]["members"]] == only_me
