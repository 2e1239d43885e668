"""A batch's emails share one SMTP connection, in claim order; a connection lost mid-batch
costs that one message a retry, and nothing is lost or sent twice."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email.parser import BytesHeaderParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI

from services.notifications.channels.email import message_id
from services.notifications.notifications.models import Delivery
from services.notifications.worker import Worker
from tests.notifications.support import (
    Accept,
    deliveries_of,
    free_port,
    make_due,
    notification_body,
    recipient,
    reload,
)

pytestmark = pytest.mark.usefixtures("quiet_queue")


class Counter:
    """An aiosmtpd handler keeping each message's Message-ID with the connection it came on;
    it hangs up instead of answering the messages numbered in `hang_up_at` (1-based)."""

    def __init__(self, hang_up_at: frozenset[int] = frozenset()) -> None:
        self.taken: list[tuple[str, object]] = []  # (Message-ID, the connection's peer)
        self.seen = 0
        self.hang_up_at = hang_up_at
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.seen += 1
            if self.seen in self.hang_up_at:
                # Gone before the 250: the message was not taken.
                assert server.transport is not None
                server.transport.close()
                return "421 closing"
            mid = str(
                BytesHeaderParser().parsebytes(envelope.original_content or b"")["Message-ID"]
            )
            self.taken.append((mid, session.peer))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [mid for mid, _ in self.taken]

    def connections(self) -> set[object]:
        with self.lock:
            return {peer for _, peer in self.taken}


@pytest.fixture
def serve() -> Iterator[Callable[[Counter], int]]:
    controllers: list[Controller] = []

    def start(handler: Counter) -> int:
        port = free_port()
        controllers.append(Controller(handler, hostname="127.0.0.1", port=port))
        controllers[-1].start()
        return port

    yield start
    for controller in controllers:
        controller.stop()


async def one_persons_messages(accept: Accept, app: FastAPI, count: int) -> list[Delivery]:
    """`count` notifications to the same person, one after the other; their deliveries in the
    order they were made."""
    person = recipient()
    made = []
    for _ in range(count):
        answer = await accept(notification_body([person]))
        assert answer.status_code == 202, answer.text
        [delivery] = await deliveries_of(app, answer.json()["id"])
        made.append(delivery)
    return made


async def test_a_batch_goes_over_one_connection_in_the_order_it_was_made(
    accept: Accept,
    apps: dict[str, FastAPI],
    make_worker: Callable[..., Worker],
    serve: Callable[[Counter], int],
) -> None:
    made = await one_persons_messages(accept, apps["notifications"], 6)
    server = Counter()
    worker = make_worker(serve(server))

    assert await worker.run_once() == 6

    assert server.message_ids() == [message_id(d.id) for d in made]
    assert len(server.connections()) == 1
    assert await worker.run_once() == 0
    assert len(server.message_ids()) == 6


async def test_a_connection_lost_mid_batch_retries_that_message_only_and_loses_none(
    accept: Accept,
    apps: dict[str, FastAPI],
    make_worker: Callable[..., Worker],
    serve: Callable[[Counter], int],
) -> None:
    app = apps["notifications"]
    made = await one_persons_messages(accept, app, 5)
    server = Counter(hang_up_at=frozenset({2}))
    worker = make_worker(serve(server))

    assert await worker.run_once() == 5

    expected = [message_id(d.id) for d in made]
    # The one the server hung up on waits for its retry; the batch went on over a new
    # connection, in order.
    assert server.message_ids() == [expected[0], *expected[2:]]
    assert len(server.connections()) == 2
    lost = await reload(app, made[1].id)
    assert (lost.status, lost.attempts, lost.locked_until) == ("pending", 1, None)
    assert lost.last_error == "SMTPServerDisconnected"
    for delivery in (made[0], *made[2:]):
        assert (await reload(app, delivery.id)).status == "sent"

    await make_due(app, made[1].id)
    assert await worker.run_once() == 1

    assert sorted(server.message_ids()) == sorted(expected)  # each once
    assert (await reload(app, made[1].id)).status == "sent"


async def test_a_server_that_hangs_up_on_every_message_gets_each_once_when_it_mends(
    accept: Accept,
    apps: dict[str, FastAPI],
    make_worker: Callable[..., Worker],
    serve: Callable[[Counter], int],
) -> None:
    app = apps["notifications"]
    made = await one_persons_messages(accept, app, 3)
    server = Counter(hang_up_at=frozenset({1, 2, 3}))
    worker = make_worker(serve(server))

    assert await worker.run_once() == 3
    assert server.message_ids() == []
    for delivery in made:
        assert (await reload(app, delivery.id)).attempts == 1
        await make_due(app, delivery.id)

    assert await worker.run_once() == 3

    assert server.message_ids() == [message_id(d.id) for d in made]
    assert len(server.connections()) == 1
