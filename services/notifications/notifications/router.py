"""Internal routes: only our own services, with a service token, reach them."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.notifications.db import DbSession
from services.notifications.notifications import cancel, service
from shared.contracts.notifications import (
    BatchAccepted,
    CancellationDone,
    NotificationAccepted,
    NotificationBatch,
    NotificationRequest,
    ScheduledCancellation,
)
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(prefix="/internal/v1", tags=["internal"], responses=problem_responses(401))


@router.post(
    "/notifications",
    status_code=202,
    response_model=NotificationAccepted,
    responses=problem_responses(409),  # the key was used for a different notification
)
async def accept_notification(
    request: NotificationRequest, db: DbSession, _: CallingService, http: Request
) -> NotificationAccepted:
    """Store the request and its deliveries, then answer; the worker delivers them."""
    unconfigured = http.app.state.settings.unconfigured_channels
    return await service.accept(db=db, request=request, unconfigured=unconfigured)


@router.post(
    "/notifications/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=problem_responses(409),  # a key was used for a different notification: none kept
)
async def accept_notifications(
    batch: NotificationBatch, db: DbSession, _: CallingService, http: Request
) -> BatchAccepted:
    """Several at once, as one: each stored as `POST /notifications` stores it, all or none."""
    unconfigured = http.app.state.settings.unconfigured_channels
    accepted = await service.accept_many(
        db=db, requests=batch.notifications, unconfigured=unconfigured
    )
    return BatchAccepted(accepted=accepted)


@router.post(
    "/notifications/cancel",
    response_model=CancellationDone,
    responses=problem_responses(409),  # the key was used for another session's calling-off
)
async def cancel_scheduled(
    request: ScheduledCancellation, db: DbSession, _: CallingService
) -> CancellationDone:
    """Call off a session's scheduled notifications not sent yet (reminders, follow-ups)."""
    return await cancel.cancel_scheduled(db=db, request=request)
