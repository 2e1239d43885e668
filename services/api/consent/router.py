from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.auth.deps import PersonWriter, StaffReader
from services.api.consent import service
from services.api.consent.schemas import ConsentPublic
from services.api.db import DbSession
from services.api.sessions import preparation
from services.api.sessions import service as session_service
from services.api.sessions.schemas import GatePublic, WithdrawRequest
from services.api.sessions.views import gate_public

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["consent"])


@router.post("/consents/{student_id}/withdraw", response_model=GatePublic)
async def withdraw(
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    db: DbSession,
    principal: PersonWriter,
    data: WithdrawRequest | None = None,
) -> GatePublic:
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


@router.get("/consents", response_model=list[ConsentPublic])
async def consents(
    session_id: uuid.UUID, db: DbSession, principal: StaffReader
) -> list[ConsentPublic]:
    """Every consent record of the session's group, withdrawals included."""
    session = await session_service.get(db=db, principal=principal, session_id=session_id)
    session_service.ensure_may_run(principal, session)
    rows = await service.records_of_group(db=db, group_id=session.group_id)
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
