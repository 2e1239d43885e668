"""Internal routes for schools' webhook subscriptions (the api's public routes call these)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.notifications.db import DbSession
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import service
from services.notifications.webhooks.models import WebhookSubscription
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
from shared.secret_box import SecretBox
from shared.service_auth import CallingService

router = APIRouter(
    prefix="/internal/v1/schools/{school_id}/webhooks",
    tags=["internal"],
    responses=problem_responses(401, 404),
)


async def _subscription(
    school_id: uuid.UUID, subscription_id: uuid.UUID, db: DbSession, _: CallingService
) -> WebhookSubscription:
    return await service.find(db=db, school_id=school_id, subscription_id=subscription_id)


Subscription = Annotated[WebhookSubscription, Depends(_subscription)]


async def _settings(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


async def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.webhook_box
    return box


Settings = Annotated[NotificationsSettings, Depends(_settings)]
Box = Annotated[SecretBox, Depends(_box)]


@router.post("", status_code=201, response_model=WebhookSubscriptionWithSecret)
async def create_subscription(
    school_id: uuid.UUID,
    data: WebhookSubscriptionIn,
    db: DbSession,
    box: Box,
    settings: Settings,
    _: CallingService,
) -> WebhookSubscriptionWithSecret:
    return await service.create(
        db=db,
        box=box,
        school_id=school_id,
        data=data,
        allow_private=settings.webhook_allow_private_networks,
    )


@router.get("", response_model=list[WebhookSubscriptionOut])
async def list_subscriptions(
    school_id: uuid.UUID, db: DbSession, _: CallingService
) -> list[WebhookSubscriptionOut]:
    return await service.list_for(db=db, school_id=school_id)


@router.get("/{subscription_id}", response_model=WebhookSubscriptionOut)
async def get_subscription(subscription: Subscription) -> WebhookSubscriptionOut:
    return service.public(subscription)


@router.patch("/{subscription_id}", response_model=WebhookSubscriptionOut)
async def update_subscription(
    subscription: Subscription, data: WebhookSubscriptionUpdate, db: DbSession, settings: Settings
) -> WebhookSubscriptionOut:
    return await service.update(
        db=db,
        subscription=subscription,
        data=data,
        allow_private=settings.webhook_allow_private_networks,
    )


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription: Subscription, db: DbSession) -> Response:
    await service.remove(db=db, subscription=subscription)
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=WebhookSubscriptionWithSecret)
async def rotate_secret(
    subscription: Subscription, db: DbSession, box: Box, settings: Settings
) -> WebhookSubscriptionWithSecret:
    grace = timedelta(seconds=settings.webhook_rotation_grace_seconds)
    return await service.rotate(db=db, box=box, subscription=subscription, grace=grace)


@router.post("/{subscription_id}/test", status_code=202, response_model=WebhookTestQueued)
async def send_test(subscription: Subscription, db: DbSession) -> WebhookTestQueued:
    return await service.send_test(db=db, subscription=subscription)


@router.get("/{subscription_id}/messages", response_model=WebhookMessagePage)
async def messages(
    subscription: Subscription, query: Annotated[WebhookMessageQuery, Query()], db: DbSession
) -> WebhookMessagePage:
    return await service.messages_page(db=db, subscription=subscription, query=query)


@router.post(
    "/{subscription_id}/messages/{webhook_id}/retry",
    response_model=WebhookMessageOut,
    responses=problem_responses(409),
)
async def redeliver(
    subscription: Subscription, webhook_id: str, db: DbSession
) -> WebhookMessageOut:
    return await service.redeliver(db=db, subscription=subscription, webhook_id=webhook_id)
