"""Consent records: recording decisions, withdrawing them, and the evidence the gate reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.consent.models import Consent, ConsentWithdrawal
from services.api.db import PerDatabase, columns, table
from shared.gate import Signer
from shared.timeutil import utcnow


@dataclass(frozen=True)
class Evidence:
    """A consent as the gate sees it (satisfies `shared.gate.ConsentLike`)."""

    consent_id: uuid.UUID
    student_id: uuid.UUID
    signer: Signer
    platform: str
    text_version: str
    granted: bool
    withdrawn: bool
    decided_at: datetime
    fallback_platform: str | None = None


async def record(*, db: AsyncSession, consent: Consent) -> Consent:
    """Keep a decision. Records are append-only: a new decision is a new row."""
    db.add(consent)
    await db.flush()
    return consent


async def evidence(
    *, db: AsyncSession, group_id: uuid.UUID, student_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Evidence]]:
    """Every consent of these students for this group, newest first, with withdrawal marked."""
    return (await evidence_of_groups(await db.connection(), {group_id: student_ids}))[group_id]


_c, _w = columns(Consent), columns(ConsentWithdrawal)
# Core, not ORM: the gate reads these on every view of a session, and builds no objects.
_EVIDENCE = PerDatabase.build(
    lambda among: (
        core_select(
            _c.id,
            _c.group_id,
            _c.student_id,
            _c.signer,
            _c.platform,
            _c.text_version,
            _c.decision,
            _c.decided_at,
            _c.fallback_platform,
            (_w.id.is_not(None)).label("withdrawn"),
        )
        .select_from(table(Consent))
        .outerjoin(table(ConsentWithdrawal), _w.consent_id == _c.id)
        .where(among(_c.group_id, "groups"), among(_c.student_id, "students"))
        .order_by(_c.decided_at.desc())
    )
)


async def evidence_of_groups(
    connection: AsyncConnection, wanted: dict[uuid.UUID, list[uuid.UUID]]
) -> dict[uuid.UUID, dict[uuid.UUID, list[Evidence]]]:
    """`evidence` for several groups at once (a page of sessions), in one query."""
    students = {s for ids in wanted.values() for s in ids}
    found: dict[uuid.UUID, dict[uuid.UUID, list[Evidence]]] = {
        g: {s: [] for s in ids} for g, ids in wanted.items()
    }
    if students:
        rows = await connection.execute(
            _EVIDENCE.on(connection), {"groups": list(wanted), "students": list(students)}
        )
        # Plain tuples in _EVIDENCE's column order: a Row's column by name costs about 1 µs.
        for (
            consent_id,
            group_id,
            student_id,
            signer,
            platform,
            text_version,
            decision,
            decided_at,
            fallback_platform,
            withdrawn,
        ) in rows:
            per_student = found[group_id].get(student_id)
            if per_student is not None:
                per_student.append(
                    Evidence(
                        consent_id=consent_id,
                        student_id=student_id,
                        signer=Signer(signer),
                        platform=platform,
                        text_version=text_version,
                        granted=decision == "granted",
                        withdrawn=bool(withdrawn),
                        decided_at=decided_at,
                        fallback_platform=fallback_platform,
                    )
                )
    return {
        g: {s: _latest_per_signer(items) for s, items in per_student.items()}
        for g, per_student in found.items()
    }


def _latest_per_signer(items: list[Evidence]) -> list[Evidence]:
    """A later decision of the same signer on the same platform and text replaces the earlier.

    So a decline after a grant un-clears, and a grant after a decline clears.
    """
    seen: set[tuple[str, str, str]] = set()
    latest = []
    for item in items:  # newest first
        key = (item.signer.value, item.platform, item.text_version)
        if key not in seen:
            seen.add(key)
            latest.append(item)
    return latest


async def active_for(
    *, db: AsyncSession, group_id: uuid.UUID, student_id: uuid.UUID
) -> list[Consent]:
    """Granted consents of this student (theirs and their guardians') not yet withdrawn."""
    rows = await db.exec(
        select(Consent)
        .join(ConsentWithdrawal, col(ConsentWithdrawal.consent_id) == Consent.id, isouter=True)
        .where(
            Consent.group_id == group_id,
            Consent.student_id == student_id,
            Consent.decision == "granted",
            col(ConsentWithdrawal.id).is_(None),
        )
    )
    return list(rows.all())


async def withdraw(
    *, db: AsyncSession, principal: Principal, consents: list[Consent], reason: str | None
) -> list[ConsentWithdrawal]:
    withdrawals = [
        ConsentWithdrawal(
            school_id=c.school_id,
            consent_id=c.id,
            withdrawn_by=principal.subject,
            withdrawn_by_role=principal.role.value,
            reason=reason,
            withdrawn_at=utcnow(),
        )
        for c in consents
    ]
    db.add_all(withdrawals)
    await db.flush()
    return withdrawals


async def records_of_group(*, db: AsyncSession, group_id: uuid.UUID) -> list[ConsentPublicRow]:
    rows = await db.exec(
        select(Consent, ConsentWithdrawal)
        .join(ConsentWithdrawal, col(ConsentWithdrawal.consent_id) == Consent.id, isouter=True)
        .where(Consent.group_id == group_id)
        .order_by(col(Consent.decided_at))
    )
    return list(rows.all())


ConsentPublicRow = tuple[Consent, ConsentWithdrawal | None]
