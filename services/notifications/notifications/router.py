"""Internal routes: only our own services, with a service token, reach them."""

from __future__ import annotations

from fastapi import APIRouter

from services.notifications.db import DbSession
from services.notifications.notifications import service
from shared.contracts.notifications import NotificationAccepted, NotificationRequest
from shared.problems import problem_responses
from shared.service_auth import CallingService

router = APIRouter(prefix="/internal/v1", tags=["internal"], responses=problem_responses(401))


@router.post("/notifications", status_code=202, response_model=NotificationAccepted)
async def accept_notification(
    request: NotificationRequest, db: DbSession, _: CallingService
) -> NotificationAccepted:
    """Store the request and its deliveries, then answer; the worker delivers them."""
    return await service.accept(db=db, request=request)
