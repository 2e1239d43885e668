"""HTTP calls from one of our services to another.

Every call carries a fresh service token and the current request id, has a timeout, and is
retried with exponential backoff and jitter only when it is safe: the request carries an
idempotency key that the receiver honours. A call that gives up raises `ServiceCallFailed`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from shared.jitter import equal_jitter
from shared.observability import REQUEST_ID_HEADER, Metrics, current_request_id
from shared.service_auth import ServiceTokens
from shared.tls import client_context, trusting_nothing

log = logging.getLogger("lingkar.service_client")

IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class ServiceCallFailed(Exception):
    def __init__(
        self,
        target: str,
        reason: str,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"call to {target} failed: {reason}")
        self.target = target
        self.reason = reason
        self.status = status
        # The receiver's problem+json body, so a caller can pass its refusal on (a 422's errors).
        self.problem = problem


class ServiceClient:
    def __init__(
        self,
        *,
        caller: str,
        tokens: ServiceTokens,
        metrics: Metrics | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff_seconds: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: bool = True,
    ) -> None:
        """`tls=False` when every service URL is `http://`: no CA bundle is read, and an HTTPS
        call would be refused (`shared.tls.trusting_nothing`)."""
        self.caller = caller
        self.tokens = tokens
        self.metrics = metrics
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=client_context() if tls else trusting_nothing(),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self,
        target: str,
        url: str,
        *,
        json: Any,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """POST to another service; retried only when keyed. Raises on any non-2xx answer."""
        return await self._send(
            "POST",
            target,
            url,
            json=json,
            idempotency_key=idempotency_key,
            attempts=self.attempts if idempotency_key else 1,
        )

    async def get(self, target: str, url: str, *, params: Any = None) -> httpx.Response:
        """GET from another service; always safe to retry. Raises on any non-2xx answer."""
        return await self._send("GET", target, url, params=params, attempts=self.attempts)

    async def patch(self, target: str, url: str, *, json: Any) -> httpx.Response:
        """PATCH another service's resource; setting the same fields twice is harmless."""
        return await self._send("PATCH", target, url, json=json, attempts=self.attempts)

    async def delete(self, target: str, url: str) -> httpx.Response:
        """DELETE once: a retry after a lost answer would be told the resource is gone."""
        return await self._send("DELETE", target, url, attempts=1)

    async def _send(
        self,
        method: str,
        target: str,
        url: str,
        *,
        attempts: int,
        json: Any = None,
        params: Any = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=self._headers(target, idempotency_key),
                )
            except httpx.HTTPError as exc:
                self._count(target, "error")
                if attempt == attempts:
                    raise ServiceCallFailed(target, type(exc).__name__) from exc
            else:
                if response.is_success:
                    self._count(target, "ok")
                    return response
                self._count(target, f"http_{response.status_code}")
                if response.status_code not in _RETRYABLE_STATUS or attempt == attempts:
                    raise ServiceCallFailed(
                        target, _refusal(response), response.status_code, _problem(response)
                    )
            await asyncio.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def _headers(self, target: str, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens.issue(target)}"}
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        return headers

    def _backoff(self, attempt: int) -> float:
        base: float = self.backoff_seconds * (2 ** (attempt - 1))
        return equal_jitter(base)

    def _count(self, target: str, outcome: str) -> None:
        if self.metrics:
            self.metrics.outside_calls.labels(target, outcome).inc()


def _refusal(response: httpx.Response) -> str:
    """Our services answer problem+json: keep its `detail`, which says what was wrong."""
    reason = f"answered {response.status_code}"
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return reason
    return f"{reason}: {str(detail)[:300]}" if detail else reason


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
