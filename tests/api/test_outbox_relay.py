"""The relay delivering many messages at once: each effect once, each lane in order.

Several relays (the app's own and two more, as several api processes would run) take from one
outbox. Most messages here are of kinds only these tests handle: the handler is the receiving
service, recording what reached it, so what is checked is the relay's part alone. The last test
goes through the meetings service: a withdrawal and a new consent, sent together.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy import text
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.outbox import service as outbox
from services.api.outbox.models import OutboxMessage
from services.api.outbox.relay import OutboxRelay, Sent, handles
from services.api.sessions import locks, provisioning
from services.meetings.meetings.models import Meeting
from services.meetings.participants.links import token_hash
from services.meetings.participants.models import Participant
from shared.service_client import ServiceCallFailed
from tests.api.test_gate import adult_session, ready_to_provision
from tests.api.test_provisioning_races import (
    make_due_now,
    meetings_unreachable,
    on_zoom_never_set_up,
    settle,
)
from tests.factories import SchoolKit, eventually, grant_consent
from tests.metrics import samples

RECORDED = "relaytest.record"
REFUSED_ONCE = "relaytest.refused_once"
REFUSED = "relaytest.refused"
FAILING = "relaytest.failing"
POOL_BUSY = "relaytest.pool_busy"
SLOW = "relaytest.slow"


class Receiver:
    """What reached the receiving end: every call, in order, and who was in flight when."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.in_flight: dict[str, int] = defaultdict(int)  # lane -> calls under way
        self.most_in_flight_per_lane = 0
        self.most_in_flight = 0
        self.refused: set[str] = set()

    async def receive(self, message: OutboxMessage) -> None:
        lane = message.lane or str(message.id)  # a message without a lane: a lane of its own
        self.calls.append(message.idempotency_key)
        self.in_flight[lane] += 1
        self.most_in_flight_per_lane = max(self.most_in_flight_per_lane, self.in_flight[lane])
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(0.01)  # a call takes a while: others start meanwhile
        finally:
            self.in_flight[lane] -= 1


receiver = Receiver()


async def _nothing(_: AsyncSession) -> None:
    return None


@handles(RECORDED)
async def _record(message: OutboxMessage, _: Any) -> Sent:
    await receiver.receive(message)
    return Sent(_nothing)


@handles(REFUSED_ONCE)
async def _refused_once(message: OutboxMessage, _: Any) -> Sent:
    await receiver.receive(message)
    if message.idempotency_key not in receiver.refused:
        receiver.refused.add(message.idempotency_key)
        raise ServiceCallFailed("relaytest", "busy", status=503)
    return Sent(_nothing)


@handles(REFUSED)
async def _refused(message: OutboxMessage, _: Any) -> Sent:
    await receiver.receive(message)
    raise ServiceCallFailed("relaytest", "no such thing", status=404)


@handles(FAILING)
async def _failing(message: OutboxMessage, _: Any) -> Sent:
    await receiver.receive(message)
    raise ServiceCallFailed("relaytest", "unavailable", status=503)


@handles(POOL_BUSY)
async def _pool_busy(message: OutboxMessage, _: Any) -> Sent:
    await receiver.receive(message)
    raise sqlalchemy_exc.TimeoutError("QueuePool limit of size 8 overflow 0 reached")


class SlowCalls:
    """Calls that wait until the test lets each one answer; which of them were recorded."""

    def __init__(self) -> None:
        self.answers: list[asyncio.Event] = []
        self.recorded: list[int] = []


slow = SlowCalls()


@handles(SLOW)
async def _slow(message: OutboxMessage, _: Any) -> Sent:
    call = len(slow.answers)
    answer = asyncio.Event()
    slow.answers.append(answer)
    await answer.wait()

    async def record(_: AsyncSession) -> None:
        slow.recorded.append(call)

    return Sent(record)


@pytest.fixture
async def relays(apps: dict[str, FastAPI]) -> AsyncIterator[list[OutboxRelay]]:
    """Two more relays beside the app's own, as two more api processes would be."""
    global receiver
    receiver = Receiver()
    started = []
    for name in ("relay-a", "relay-b"):
        relay = OutboxRelay(
            engine=apps["api"].state.engine,
            poll_seconds=0.02,
            context=apps["api"].state,
            concurrency=8,
        )
        relay.worker = name
        relay.start()
        started.append(relay)
    yield started
    for relay in started:
        await relay.stop()


async def _enqueue(
    apps: dict[str, FastAPI],
    school: SchoolKit,
    kind: str,
    key: str,
    lane: uuid.UUID | None,
    *more: tuple[str, uuid.UUID | None],
) -> None:
    """Messages committed together, in the order given."""
    async with AsyncSession(apps["api"].state.engine, expire_on_commit=False) as db:
        for each_key, each_lane in [(key, lane), *more]:
            await outbox.enqueue(
                db=db,
                school_id=school.school_id,
                kind=kind,
                idempotency_key=each_key,
                payload={},
                session_id=each_lane,
            )
        await db.commit()


async def _all_settled(apps: dict[str, FastAPI], keys: list[str]) -> bool:
    async with AsyncSession(apps["api"].state.engine) as db:
        rows = await db.exec(
            select(OutboxMessage.status).where(col(OutboxMessage.idempotency_key).in_(keys))
        )
        statuses = list(rows.all())
    return len(statuses) == len(keys) and "pending" not in statuses


def _wake(apps: dict[str, FastAPI], relays: list[OutboxRelay]) -> None:
    for relay in [apps["api"].state.outbox_relay, *relays]:
        relay.wake()


async def test_many_messages_through_three_relays_are_each_delivered_once_and_in_lane_order(
    school: SchoolKit, apps: dict[str, FastAPI], relays: list[OutboxRelay]
) -> None:
    run = uuid.uuid4().hex[:8]
    lanes = [uuid.uuid4() for _ in range(6)]
    keys_of: dict[uuid.UUID | None, list[str]] = defaultdict(list)
    for _round in range(4):
        batch = []
        for _ in range(5):  # each round commits several messages of every lane at once
            for lane in [*lanes, None, None]:
                key = f"{run}:{lane}:{len(keys_of[lane])}"
                keys_of[lane].append(key)
                batch.append((key, lane))
        await _enqueue(apps, school, RECORDED, *batch[0], *batch[1:])
        _wake(apps, relays)  # relays at work while the next round is committed
    everything = [key for keys in keys_of.values() for key in keys]
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, everything), seconds=30)

    mine = [key for key in receiver.calls if key.startswith(run)]
    assert sorted(mine) == sorted(everything)  # each once: none lost, none twice
    assert Counter(mine).most_common(1)[0][1] == 1
    for lane in lanes:
        assert [key for key in mine if key in keys_of[lane]] == keys_of[lane]
    assert receiver.most_in_flight_per_lane == 1
    assert receiver.most_in_flight > 1  # and yet concurrently, across lanes


async def test_a_message_waiting_to_be_retried_holds_back_the_rest_of_its_lane_only(
    school: SchoolKit, apps: dict[str, FastAPI], relays: list[OutboxRelay]
) -> None:
    run = uuid.uuid4().hex[:8]
    lane, other = uuid.uuid4(), uuid.uuid4()
    first, then = f"{run}:first", f"{run}:then"
    await _enqueue(apps, school, REFUSED_ONCE, first, lane)
    await _enqueue(apps, school, RECORDED, then, lane)
    await _enqueue(apps, school, RECORDED, f"{run}:other", other)
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, [f"{run}:other"]))
    assert then not in receiver.calls  # the first is in backoff; its follower waits

    await make_due_now(apps)
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, [first, then]))
    assert [k for k in receiver.calls if k in (first, then)] == [first, first, then]


async def test_a_message_given_up_on_frees_its_lane(
    school: SchoolKit, apps: dict[str, FastAPI], relays: list[OutboxRelay]
) -> None:
    run = uuid.uuid4().hex[:8]
    lane = uuid.uuid4()
    await _enqueue(apps, school, REFUSED, f"{run}:refused", lane)
    await _enqueue(apps, school, RECORDED, f"{run}:next", lane)
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, [f"{run}:refused", f"{run}:next"]))
    async with AsyncSession(apps["api"].state.engine) as db:
        rows = await db.exec(
            select(OutboxMessage.idempotency_key, OutboxMessage.status).where(
                col(OutboxMessage.idempotency_key).startswith(run)
            )
        )
        assert dict(rows.all()) == {f"{run}:refused": "dead", f"{run}:next": "done"}
    assert [k for k in receiver.calls if k.startswith(run)] == [f"{run}:refused", f"{run}:next"]


def _outbox_metrics(text: str) -> tuple[dict[tuple[str, str], float], float]:
    """`lingkar_outbox_messages` by (kind, state), and `lingkar_outbox_oldest_due_seconds`."""
    counts = {
        (labels["kind"], labels["state"]): value
        for (labels, value) in (
            (dict(key), value) for key, value in samples(text, "lingkar_outbox_messages").items()
        )
    }
    return counts, samples(text, "lingkar_outbox_oldest_due_seconds")[()]


async def _set(apps: dict[str, FastAPI], key: str, **values: Any) -> None:
    async with AsyncSession(apps["api"].state.engine) as db:
        await db.exec(
            update(OutboxMessage).where(col(OutboxMessage.idempotency_key) == key).values(**values)
        )
        await db.commit()


async def test_the_metrics_show_a_lane_held_back_by_a_failing_call_and_a_dead_one(
    school: SchoolKit, apps: dict[str, FastAPI], relays: list[OutboxRelay], api: httpx.AsyncClient
) -> None:
    """What an operator alerts on: the oldest due message's wait grows while its lane is held;
    a message given up on is counted by its kind."""
    run = uuid.uuid4().hex[:8]
    head, held, refused = f"{run}:head", f"{run}:held", f"{run}:refused"
    before, _ = _outbox_metrics((await api.get("/metrics")).text)
    await _enqueue(apps, school, FAILING, head, lane := uuid.uuid4())
    await _enqueue(apps, school, RECORDED, held, lane)
    await _enqueue(apps, school, REFUSED, refused, uuid.uuid4())
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, [refused]))
    await eventually(lambda: _tried(apps, head, times=1))
    # The head keeps failing (a retry an hour away); its follower has waited an hour.
    await _set(apps, head, next_attempt_at=datetime.now(UTC) + timedelta(hours=1))
    await _set(apps, held, next_attempt_at=datetime.now(UTC) - timedelta(hours=1))

    counts, oldest = _outbox_metrics((await api.get("/metrics")).text)
    assert counts[(REFUSED, "dead")] == before.get((REFUSED, "dead"), 0) + 1
    assert counts[(FAILING, "scheduled")] == before.get((FAILING, "scheduled"), 0) + 1
    assert counts[(RECORDED, "due")] >= 1
    assert oldest >= 3600
    assert held not in receiver.calls

    # Given up on, the head frees its lane: the follower goes, and nothing waits that long.
    await _set(apps, head, status="dead", locked_until=None)
    _wake(apps, relays)
    await eventually(lambda: _all_settled(apps, [held]))
    counts, oldest = _outbox_metrics((await api.get("/metrics")).text)
    assert oldest < 3600
    assert counts[(FAILING, "dead")] == before.get((FAILING, "dead"), 0) + 1
    assert counts[(FAILING, "scheduled")] == before.get((FAILING, "scheduled"), 0)


async def _tried(apps: dict[str, FastAPI], key: str, *, times: int) -> bool:
    """Tried at least `times` times, and not being tried right now."""
    async with AsyncSession(apps["api"].state.engine) as db:
        message = (
            await db.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        ).one()
    return message.attempts >= times and message.locked_until is None


async def _admissions(apps: dict[str, FastAPI], session_id: str, person_id: str) -> list[Any]:
    async with AsyncSession(apps["meetings"].state.engine) as db:
        rows = await db.exec(
            select(Participant)
            .join(Meeting, col(Meeting.id) == Participant.meeting_id)
            .where(
                Meeting.session_id == uuid.UUID(session_id),
                Participant.person_id == uuid.UUID(person_id),
            )
            .order_by(col(Participant.admission_no))
        )
        return list(rows.all())


async def test_a_withdrawal_and_a_new_consent_sent_together_leave_the_member_a_working_link(
    school: SchoolKit, apps: dict[str, FastAPI], relays: list[OutboxRelay]
) -> None:
    """The revocation and the new admission are due at once; were the admission to reach the
    meetings service first, it would be given the old link, which the revocation then closes."""
    sessions = [await adult_session(school, members=2) for _ in range(4)]
    for session in sessions:
        for student in session["group"]["students"]:
            await grant_consent(apps["api"], session=session, student_id=student["id"])
        await ready_to_provision(school, session)
    await settle(apps)
    with meetings_unreachable(apps):
        for session in sessions:
            student = session["group"]["students"][0]
            as_student = {"Authorization": f"Bearer {await school.token_for(student['id'])}"}
            withdrawn = await school.api.post(
                f"/v1/sessions/{session['id']}/consents/{student['id']}/withdraw",
                headers=as_student,
            )
            assert withdrawn.status_code == 200, withdrawn.text
            await grant_consent(apps["api"], session=session, student_id=student["id"])
        await asyncio.sleep(0.2)  # both tried and refused: waiting to be retried
    await make_due_now(apps)
    _wake(apps, relays)
    await settle(apps)

    for session in sessions:
        student = session["group"]["students"][0]
        as_student = {"Authorization": f"Bearer {await school.token_for(student['id'])}"}
        link = await school.api.get(f"/v1/sessions/{session['id']}/meeting", headers=as_student)
        assert link.status_code == 200, link.text
        token = link.json()["join_url"].rsplit("/", 1)[-1]
        admissions = await _admissions(apps, session["id"], student["id"])
        assert [a.status for a in admissions] == ["revoked", "active"]
        assert admissions[-1].token_hash == token_hash(token)


async def test_a_database_out_of_reach_puts_a_delivery_off_with_a_warning_not_a_traceback(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    relays: list[OutboxRelay],
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = f"{uuid.uuid4().hex[:8]}:pool-busy"
    caplog.set_level(logging.INFO, logger="lingkar.outbox")
    await _enqueue(apps, school, POOL_BUSY, key, None)
    _wake(apps, relays)

    async def tried() -> bool:
        async with AsyncSession(apps["api"].state.engine) as db:
            message = (
                await db.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
            ).one()
            return message.attempts >= 1

    await eventually(tried)
    async with AsyncSession(apps["api"].state.engine) as db:
        message = (
            await db.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        ).one()
    assert message.status == "pending"  # to be tried again, after its back-off
    assert message.next_attempt_at is not None
    assert "QueuePool limit" in (message.last_error or "")
    ours = [
        r
        for r in caplog.records
        if r.name == "lingkar.outbox" and getattr(r, "kind", "") == POOL_BUSY
    ]
    assert [r.getMessage() for r in ours if r.levelno >= logging.WARNING][:1] == [
        "outbox delivery put off: the database was out of reach"
    ]
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_delivery_whose_lease_was_taken_over_during_its_call_records_nothing(
    school: SchoolKit,
    apps: dict[str, FastAPI],
    relays: list[OutboxRelay],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The call outlasted the lease and another relay took the message over: the answer is
    that relay's to record, once, not this one's as well."""
    global slow
    slow = SlowCalls()
    key = f"{uuid.uuid4().hex[:8]}:slow"
    await _enqueue(apps, school, SLOW, key, None)
    _wake(apps, relays)
    await eventually(lambda: _true(len(slow.answers) == 1))
    # What another relay's claim does once the lease has run out.
    later = datetime.now(UTC) + timedelta(minutes=5)
    await _set(apps, key, locked_by="another-relay", locked_until=later)

    caplog.set_level(logging.INFO, logger="lingkar.outbox")
    slow.answers[0].set()
    await eventually(lambda: _true(any("outlasted its lease" in m for m in caplog.messages)))

    assert slow.recorded == []
    message = await _message(apps, key)
    assert (message.status, message.locked_by) == ("pending", "another-relay")
    # Its lease runs out in turn: a relay of ours takes the message, and that answer counts.
    await _set(apps, key, locked_until=datetime.now(UTC) - timedelta(seconds=1))
    _wake(apps, relays)
    await eventually(lambda: _true(len(slow.answers) == 2))
    slow.answers[1].set()
    await eventually(lambda: _all_settled(apps, [key]))
    assert slow.recorded == [1]
    assert (await _message(apps, key)).status == "done"


async def _true(value: bool) -> bool:
    return value


async def _message(apps: dict[str, FastAPI], key: str) -> OutboxMessage:
    async with AsyncSession(apps["api"].state.engine) as db:
        found = await db.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        return found.one()


class HoldsTheMessage(httpx.AsyncBaseTransport):
    """The meetings service, reached only once another transaction holds the outbox message's
    row, as an operator's `outbox give-up` does while the relay's call is under way."""

    def __init__(self, inner: httpx.AsyncBaseTransport, engine: Any, key: str) -> None:
        self.inner, self.engine, self.key = inner, engine, key
        self.holding, self.release = asyncio.Event(), asyncio.Event()
        self.session_free: bool | None = None
        self._task: asyncio.Task[None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._task is None:
            self._task = asyncio.create_task(self._hold())
            await self.holding.wait()
        return await self.inner.handle_async_request(request)

    async def _hold(self) -> None:
        async with AsyncSession(self.engine) as db:
            await db.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.idempotency_key == self.key)
                .with_for_update()
            )
            self.holding.set()
            await self.release.wait()
            await db.rollback()

    async def finished(self) -> None:
        assert self._task is not None
        await self._task


async def _waiting_on_a_lock(engine: Any) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        return bool(waiting.scalar_one())


async def test_a_delivery_given_up_locks_its_message_before_its_session(
    school: SchoolKit, apps: dict[str, FastAPI]
) -> None:
    """The operator's give-up locks the message, then the session (what a dead provisioning
    undoes). A relay giving up the same message must take them in that order too: the other
    order is a deadlock, which PostgreSQL breaks by failing one of the two."""
    engine = apps["api"].state.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite lets one writer in at a time")
    session = await on_zoom_never_set_up(school, apps)
    sid = session["id"]
    with meetings_unreachable(apps):
        await ready_to_provision(school, session)
        [key] = await eventually(lambda: _provisioning_tried(apps, sid))
    router = apps["api"].state.service_transport
    meetings = router.transports["meetings.internal"]
    held = HoldsTheMessage(meetings, engine, key)
    router.transports["meetings.internal"] = held
    try:
        await make_due_now(apps)
        apps["api"].state.outbox_relay.wake()
        await eventually(lambda: _waiting_on_a_lock(engine))  # the relay, giving the message up

        # The session's lock is free: the relay waits for the message before it takes it. (The
        # operator would take it now, holding the message; held by the relay, neither moves.)
        async with AsyncSession(engine) as db:
            found = await asyncio.wait_for(locks.locked(db, uuid.UUID(sid)), timeout=3)
            assert found is not None
            await db.rollback()
    finally:
        held.release.set()
        await held.finished()
        router.transports["meetings.internal"] = meetings

    message = await eventually(lambda: _dead(apps, key))
    assert "not configured" in (message.last_error or "")
    history = await school.get(f"/v1/sessions/{sid}/history")
    assert [h["to"] for h in history if h["kind"] == "meeting"][-1:] == ["failed"]


async def _provisioning_tried(apps: dict[str, FastAPI], session_id: str) -> list[str]:
    async with AsyncSession(apps["api"].state.engine) as db:
        found = await db.exec(
            select(OutboxMessage).where(OutboxMessage.kind == provisioning.PROVISION)
        )
        return [
            m.idempotency_key
            for m in found.all()
            if m.payload.get("session_id") == session_id and m.attempts >= 1
        ]


async def _dead(apps: dict[str, FastAPI], key: str) -> OutboxMessage | None:
    message = await _message(apps, key)
    return message if message.status == "dead" else None
