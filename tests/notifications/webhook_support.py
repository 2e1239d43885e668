"""A real webhook receiver on loopback, and helpers for the webhook tests."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.webhooks.models import WebhookMessage, WebhookSubscription
from shared.timeutil import utcnow


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # which of the sender's connections it came on


class Receiver:
    """An integrator's HTTP endpoint on 127.0.0.1: answers from a script (200 when it runs out)
    and keeps every request it gets."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/lingkar/hooks"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            return self.script.pop(0) if self.script else Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps the connection open, as real receivers do

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                port = self.client_address[1]
                answer = receiver._next(Received(self.path, headers, body, port))
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in {"content-length": "0", **answer.headers}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: the test reads `received` instead."""

        return Handler


class Clock:
    """The sender's clock: real time, plus however far a test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def jump_to(self, moment: datetime) -> None:
        self.offset = max(self.offset, moment - utcnow())


async def messages_of(app: FastAPI, subscription_id: str | uuid.UUID) -> list[WebhookMessage]:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        rows = await db.exec(
            select(WebhookMessage)
            .where(WebhookMessage.subscription_id == uuid.UUID(str(subscription_id)))
            .order_by(WebhookMessage.created_at)  # type: ignore[arg-type]
        )
        return list(rows.all())


async def stored_subscription(app: FastAPI, subscription_id: str) -> WebhookSubscription:
    async with AsyncSession(app.state.engine, expire_on_commit=False) as db:
        row = await db.get(WebhookSubscription, uuid.UUID(subscription_id))
        assert row is not None
        return row
