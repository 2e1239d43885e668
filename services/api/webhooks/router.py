"""A school's outbound webhooks: the school admin subscribes its information system here; the
notifications service keeps the subscriptions (secrets encrypted) and sends the events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from services.api.auth.deps import SchoolAdmin
from services.api.webhooks import service
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
from shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/school/webhooks", tags=["webhooks"], responses=problem_responses(401, 403, 404)
)

EVENTS_DOC = """Every notification Lingkar sends becomes an event, POSTed as JSON in the Standard
Webhooks shape `{"type", "timestamp", "data"}` to each enabled subscription that asked for its
type. Headers: `webhook-id` (the same on every retry of one message: drop repeats),
`webhook-timestamp` (Unix seconds), `webhook-signature` (`v1,` + base64 of
HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` keyed with the secret's bytes; during a
rotation two signatures, space-separated). Verify with any Standard Webhooks library.

`data` always has `school_id`, `session_id`, `notification_id` and `recipient_ids` (the people
told), and the session's `session_title`, `scheduled_start` (UTC), `duration_minutes`,
`provider`; per type:

| type | more in `data` |
| --- | --- |
| `consent_requested` | `student_id`, `signer` (`student` or `guardian`), `expires_at` |
| `meeting_provisioned_host`, `meeting_provisioned_member` | - |
| `consent_withdrawn` | `student_id`, `blocked` (the session fell below its minimum) |
| `session_rescheduled` | `schedule_sequence` (rises with each change), the new `scheduled_start` |
| `session_cancelled` | `reason`, `schedule_sequence` |
| `session_reminder` | `reminder` (`24h` or `15m`) |
| `follow_up_due` | `follow_up` (`short_term` or `long_term`) |
| `contact_unreachable` | `channel` (the one that failed), `fallback_channel` (or null) |
| `webhook.test` | only `school_id`, `subscription_id`, `message` |

Never in a payload: consent, join or host links, passcodes, email addresses, phone numbers,
names, counseling notes. Answer 2xx within the time-out (10 s by default) to acknowledge; any
other answer is retried with jitter after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, for
about three days (`Retry-After` is honoured on 429, 502, 503, 504); **410 Gone disables the
subscription** (`enabled: false` and `disabled_reason` on GET; PATCH `enabled: true` to resume).
Redirects are not followed. URLs must resolve to public addresses."""
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such subscription in this school"}
}


@router.post(
    "", status_code=201, response_model=WebhookSubscriptionWithSecret, description=EVENTS_DOC
)
async def create_subscription(
    data: WebhookSubscriptionIn, request: Request, principal: SchoolAdmin
) -> WebhookSubscriptionWithSecret:
    """Subscribe an endpoint to events; the answer shows its signing secret this once."""
    return await service.create(app_state=request.app.state, school_id=principal.tenant, data=data)


@router.get("", response_model=list[WebhookSubscriptionOut])
async def list_subscriptions(
    request: Request, principal: SchoolAdmin
) -> list[WebhookSubscriptionOut]:
    """The school's subscriptions (no secrets)."""
    return await service.list_for(app_state=request.app.state, school_id=principal.tenant)


async def _subscription(
    subscription_id: uuid.UUID, request: Request, principal: SchoolAdmin
) -> service.SubscriptionRef:
    return service.SubscriptionRef(request.app.state, principal.tenant, subscription_id)


Subscription = Annotated[service.SubscriptionRef, Depends(_subscription)]


@router.get("/{subscription_id}", response_model=WebhookSubscriptionOut, responses=_NOT_FOUND)
async def get_subscription(ref: Subscription) -> WebhookSubscriptionOut:
    """One subscription, with `disabled_reason` if Lingkar stopped sending to it."""
    return await service.get(ref=ref)


@router.patch("/{subscription_id}", response_model=WebhookSubscriptionOut, responses=_NOT_FOUND)
async def update_subscription(
    ref: Subscription, data: WebhookSubscriptionUpdate
) -> WebhookSubscriptionOut:
    """Change `url`, `events`, `description` or `enabled`."""
    return await service.update(ref=ref, data=data)


@router.delete("/{subscription_id}", status_code=204, responses=_NOT_FOUND)
async def delete_subscription(ref: Subscription) -> Response:
    """Unsubscribe; events still on their way are dropped."""
    await service.delete(ref=ref)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=WebhookSubscriptionWithSecret,
    responses=_NOT_FOUND,
)
async def rotate_secret(ref: Subscription) -> WebhookSubscriptionWithSecret:
    """A new signing secret, shown once; for 24 hours the old one signs too (two signatures)."""
    return await service.rotate_secret(ref=ref)


@router.post(
    "/{subscription_id}/test",
    status_code=202,
    response_model=WebhookTestQueued,
    responses=_NOT_FOUND,
)
async def send_test(ref: Subscription) -> WebhookTestQueued:
    """Send a `webhook.test` event to the subscription now."""
    return await service.send_test(ref=ref)


@router.get("/{subscription_id}/messages", response_model=WebhookMessagePage, responses=_NOT_FOUND)
async def list_messages(
    ref: Subscription, query: Annotated[WebhookMessageQuery, Query()]
) -> WebhookMessagePage:
    """The events sent (or on their way) to this subscription, newest first, each with its
    `webhook-id`, status, tries, the receiver's last answer and when it is tried next; `status`
    picks one status (`dead`: the ones given up)."""
    return await service.messages(ref=ref, query=query)


@router.post(
    "/{subscription_id}/messages/{webhook_id}/retry",
    response_model=WebhookMessageOut,
    responses={
        **_NOT_FOUND,
        409: {"description": "problem+json: not dead, or the subscription is disabled"},
    },
)
async def redeliver_message(ref: Subscription, webhook_id: str) -> WebhookMessageOut:
    """Send a dead message again, with the same `webhook-id` (the receiver can still drop a
    repeat) and a fresh run of tries."""
    return await service.redeliver(ref=ref, webhook_id=webhook_id)
