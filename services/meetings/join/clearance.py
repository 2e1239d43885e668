"""Asking the api, at the moment of a click, whether the member is still cleared.

Only the api knows the member's consent as it is now; a withdrawal may not have reached us
yet. Any doubt (api down, an answer we cannot read) is a refusal: the gate fails closed.
"""

from __future__ import annotations

import logging
import uuid
from enum import StrEnum
from typing import Annotated, Protocol

from fastapi import Depends, Request

from shared.contracts.api import MemberClearance
from shared.service_client import ServiceCallFailed, ServiceClient

log = logging.getLogger("lingkar.meetings.join")


class ClearanceAnswer(StrEnum):
    cleared = "cleared"
    not_cleared = "not_cleared"
    unavailable = "unavailable"


class ClearanceCheck(Protocol):
    async def __call__(
        self, *, session_id: uuid.UUID, person_id: uuid.UUID, meeting_id: uuid.UUID
    ) -> ClearanceAnswer: ...


class ApiClearance:
    def __init__(self, *, client: ServiceClient, api_url: str) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")

    async def __call__(
        self, *, session_id: uuid.UUID, person_id: uuid.UUID, meeting_id: uuid.UUID
    ) -> ClearanceAnswer:
        url = (
            f"{self.api_url}/internal/v1/sessions/{session_id}/members/{person_id}/clearance"
            f"?meeting_id={meeting_id}"
        )
        try:
            response = await self.client.get("api", url)
            answer = MemberClearance.model_validate_json(response.content)
        except ServiceCallFailed as exc:
            if exc.status == 404:  # the api knows no such session: nobody is cleared for it
                return ClearanceAnswer.not_cleared
            log.warning("clearance check failed", extra={"reason": exc.reason})
            return ClearanceAnswer.unavailable
        except ValueError:
            log.warning("clearance check answered something unreadable")
            return ClearanceAnswer.unavailable
        return ClearanceAnswer.cleared if answer.cleared else ClearanceAnswer.not_cleared


async def api_clearance(request: Request) -> ClearanceCheck:
    return ApiClearance(
        client=request.app.state.service_client,
        api_url=request.app.state.settings.internal_url("api"),
    )


Clearances = Annotated[ClearanceCheck, Depends(api_clearance)]
