"""Structured JSON logs, a request id that crosses service calls, and Prometheus metrics.

The request id comes from the caller's `X-Request-ID` (another of our services, or a front end)
or is made here; it is in every log line of the request and in every call we make onward.
Access lines name the route template, never the raw path: paths can carry tokens.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_service_name: ContextVar[str] = ContextVar("service_name", default="lingkar")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str | None) -> Any:
    return _request_id.set(request_id)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) to one JSON line per record on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access line (with route template and request id) instead.
    logging.getLogger("uvicorn.access").disabled = True
    # Database drivers that log each statement with its values at DEBUG (aiosqlite does) would
    # put counseling notes and provider keys in the log: never below WARNING, whatever the level.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO, and some URLs carry a secret in their path
    # (Telegram's bot token): our own lines name the call instead.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class Metrics:
    """One registry per app, so several apps can live in one process (as they do in tests)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "lingkar_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route", "status"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.outside_calls = Counter(
            "lingkar_outside_calls_total",
            "Calls to other services and providers, by target and outcome",
            ["target", "outcome"],
            registry=self.registry,
        )
        self.service = service
        # Run before each scrape: a service's collectors that read their numbers from a database.
        self.refreshers: list[Callable[[], Awaitable[None]]] = []


class RequestContextMiddleware:
    """Pure ASGI middleware: binds the request id, times the request, writes the access line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("lingkar.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = incoming if incoming and _plausible_id(incoming) else new_request_id()
        token = _request_id.set(request_id)
        # Kept on the request too: the last-resort error handler runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.request_seconds.labels(
                self.metrics.service, scope["method"], route, str(status)
            ).observe(elapsed)
            if route not in ("/healthz", "/readyz", "/metrics"):
                self.log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            _request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _plausible_id(value: str) -> bool:
    return 0 < len(value) <= 128 and all(c.isalnum() or c in "-_." for c in value)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
