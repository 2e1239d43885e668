"""Passing a school's webhook subscriptions to the notifications service, which keeps and sends
them; its refusals (a URL to a private address, another school's subscription) come back as
this service's own problem+json."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from shared.contracts.webhooks import (
    WebhookMessageOut,
    WebhookMessagePage,
    WebhookMessageQuery,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionWithSecret,
    WebhookTestQueued,
)
from shared.problems import Conflict, DomainError, InvalidInput, NotFound, ServiceUnavailable
from shared.service_client import ServiceCallFailed

TARGET = "notifications"


def _url(app_state: Any, school_id: uuid.UUID, tail: str = "") -> str:
    base = app_state.settings.internal_url(TARGET)
    return f"{base}/internal/v1/schools/{school_id}/webhooks{tail}"


@dataclass(frozen=True)
class SubscriptionRef:
    """One subscription as a school admin names it: their school, its id."""

    app_state: Any
    school_id: uuid.UUID
    subscription_id: uuid.UUID

    def url(self, tail: str = "") -> str:
        return _url(self.app_state, self.school_id, f"/{self.subscription_id}{tail}")


def _refusal(exc: ServiceCallFailed) -> DomainError:
    problem = exc.problem or {}
    if exc.status == 404:
        return NotFound(str(problem.get("detail") or "no such webhook subscription"))
    if exc.status == 409:
        return Conflict(str(problem.get("detail") or "not possible in this state"))
    errors = problem.get("errors") or []
    if exc.status == 422 and errors:
        return InvalidInput(str(errors[0].get("field")), str(errors[0].get("reason")))
    return ServiceUnavailable("the webhook subscriptions could not be reached; try again")


async def _call(app_state: Any, method: str, url: str, body: Any = None) -> httpx.Response:
    client = app_state.service_client
    try:
        if method == "GET":
            response: httpx.Response = await client.get(TARGET, url)
        elif method == "PATCH":
            response = await client.patch(TARGET, url, json=body)
        elif method == "DELETE":
            response = await client.delete(TARGET, url)
        else:
            response = await client.post(TARGET, url, json=body)
    except ServiceCallFailed as exc:
        raise _refusal(exc) from exc
    return response


async def create(
    *, app_state: Any, school_id: uuid.UUID, data: WebhookSubscriptionIn
) -> WebhookSubscriptionWithSecret:
    """Subscribe; the answer carries the signing secret, this once."""
    response = await _call(app_state, "POST", _url(app_state, school_id), data.model_dump())
    return WebhookSubscriptionWithSecret.model_validate(response.json())


async def list_for(*, app_state: Any, school_id: uuid.UUID) -> list[WebhookSubscriptionOut]:
    """The school's subscriptions, without secrets."""
    response = await _call(app_state, "GET", _url(app_state, school_id))
    return [WebhookSubscriptionOut.model_validate(item) for item in response.json()]


async def get(*, ref: SubscriptionRef) -> WebhookSubscriptionOut:
    """One of the school's subscriptions; another school's is not found."""
    response = await _call(ref.app_state, "GET", ref.url())
    return WebhookSubscriptionOut.model_validate(response.json())


async def update(
    *, ref: SubscriptionRef, data: WebhookSubscriptionUpdate
) -> WebhookSubscriptionOut:
    """Change the fields given (url, events, description, enabled)."""
    body = data.model_dump(exclude_unset=True)
    response = await _call(ref.app_state, "PATCH", ref.url(), body)
    return WebhookSubscriptionOut.model_validate(response.json())


async def delete(*, ref: SubscriptionRef) -> None:
    """Unsubscribe; what was still on its way there is dropped."""
    await _call(ref.app_state, "DELETE", ref.url())


async def rotate_secret(*, ref: SubscriptionRef) -> WebhookSubscriptionWithSecret:
    """A new signing secret, shown once; the old one keeps signing too for a grace period."""
    response = await _call(ref.app_state, "POST", ref.url("/rotate-secret"), {})
    return WebhookSubscriptionWithSecret.model_validate(response.json())


async def send_test(*, ref: SubscriptionRef) -> WebhookTestQueued:
    """Queue a `webhook.test` event to the subscription."""
    response = await _call(ref.app_state, "POST", ref.url("/test"), {})
    return WebhookTestQueued.model_validate(response.json())


async def messages(*, ref: SubscriptionRef, query: WebhookMessageQuery) -> WebhookMessagePage:
    """The subscription's messages and how their tries went, newest first."""
    params = urlencode(query.model_dump(exclude_none=True))
    response = await _call(ref.app_state, "GET", ref.url(f"/messages?{params}"))
    return WebhookMessagePage.model_validate(response.json())


async def redeliver(*, ref: SubscriptionRef, webhook_id: str) -> WebhookMessageOut:
    """Send a dead message again."""
    path = f"/messages/{quote(webhook_id, safe='')}/retry"
    response = await _call(ref.app_state, "POST", ref.url(path), {})
    return WebhookMessageOut.model_validate(response.json())
