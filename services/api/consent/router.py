from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.api.auth.deps import PersonWriter, StaffReader, StaffWriter
from services.api.consent.public_schemas import RequestOut, RequestsOut
from services.api.consent.requests import Asker
from services.api.consent.schemas import ConsentPublic
from services.api.db import DbSession
from services.api.sessions import preparation
from services.api.sessions.schemas import GatePublic, WithdrawRequest
from services.api.sessions.views import gate_public
from shared.problems import problem_responses
from shared.timeutil import as_utc

router = APIRouter(
    prefix="/v1/sessions/{session_id}",
    tags=["consent"],
    responses=problem_responses(401, 403, 404, 409),
)


@router.post("/consents/{student_id}/withdraw", response_model=GatePublic)
async def withdraw(
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    db: DbSession,
    principal: PersonWriter,
    data: WithdrawRequest | None = None,
) -> dict[str, Any]:
    """Withdraw a member's consent (the student, a guardian, or the counselor on their word).

    At once: the member's join link stops working and the gate is recomputed (the answer).
    """
    gate = await preparation.withdraw(
        db=db,
        principal=principal,
        session_id=session_id,
        student_id=student_id,
        reason=data.reason if data else None,
    )
    return gate_public(gate, principal)


@router.post("/consent-requests", status_code=201, response_model=RequestsOut)
async def ask_for_consent(
    session_id: uuid.UUID, db: DbSession, principal: StaffWriter, asker: Asker
) -> RequestsOut:
    """Send each member (and each guardian of a minor) a consent request in their language.

    Asking again re-sends the open requests with a fresh link and makes no duplicates; a
    member whose standing consent covers the session is not asked again. Minors without a
    guardian on file are listed in `missing_guardians`.
    """
    asked = await preparation.ask_for_consent(
        db=db, principal=principal, session_id=session_id, asker=asker
    )
    return RequestsOut(
        requests=[
            RequestOut(
                student_id=i.request.student_id,
                signer=i.request.signer,
                signer_id=i.request.signer_id,
                url=i.url,
                token_expires_at=as_utc(i.request.expires_at),
                status=i.request.status,
            )
            for i in asked.requests
        ],
        missing_guardians=asked.missing_guardians,
    )


@router.get("/consents", response_model=list[ConsentPublic])
async def consents(
    session_id: uuid.UUID, db: DbSession, principal: StaffReader
) -> list[ConsentPublic]:
    """Every consent record of the session's group, withdrawals included."""
    rows = await preparation.consent_records(db=db, principal=principal, session_id=session_id)
    return [
        ConsentPublic.model_validate(
            {
                **consent.model_dump(),
                "withdrawn_at": withdrawal.withdrawn_at if withdrawal else None,
                "withdrawn_by": withdrawal.withdrawn_by if withdrawal else None,
            }
        )
        for consent, withdrawal in rows
    ]
