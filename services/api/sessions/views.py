"""What each caller sees of a session.

The views of reads and lists are built from Core rows, not ORM objects: a read of one session
is three queries (the session with its context, its members, their consent) and builds no
ORM object. Each view is a plain dict the route's `response_model` validates once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal, Role
from services.api.db import columns, plain_rows
from services.api.sessions import plan
from services.api.sessions.gate import SessionGate, evaluate_many, gates_of, with_context
from services.api.sessions.models import GuidanceSession
from shared.problems import NotFound
from shared.timeutil import as_utc

# The columns of a session its view shows, besides its gate and plan.
_s = columns(GuidanceSession)
SESSION_COLUMNS = (
    _s.id,
    _s.school_id,
    _s.group_id,
    _s.counselor_id,
    _s.title,
    _s.stage,
    _s.phase,
    _s.platform,
    _s.fallback_platform,
    _s.scheduled_start,
    _s.duration_minutes,
    _s.timezone,
    _s.consent_text_version,
    _s.meeting_id,
    _s.meeting_provider,
    _s.meeting_provisioned_at,
    _s.created_at,
)
_READ = with_context(*SESSION_COLUMNS).where(
    _s.id == bindparam("id"), _s.school_id == bindparam("tenant")
)


def gate_public(gate: SessionGate, principal: Principal) -> dict[str, Any]:
    def unmet(items: Sequence[Any]) -> list[dict[str, str]]:
        return [{"code": u.code, "message": u.message} for u in items]

    return {
        "met": gate.met,
        "unmet": unmet(gate.unmet),
        "members": [
            {
                "student_id": str(m.student.id),
                "cleared": m.cleared,
                "needs_guardian": m.needs_guardian,
                "missing": unmet(m.missing),
            }
            for m in gate.members
            # Classmates' consent is not a student's business.
            if principal.role != Role.student or m.student.id == principal.user_id
        ],
    }


async def read(
    *, db: AsyncConnection, principal: Principal, session_id: uuid.UUID
) -> dict[str, Any]:
    """The view of one session if the caller may see it; `NotFound` otherwise, whatever why."""
    found = plain_rows(await db.execute(_READ, {"id": session_id, "tenant": principal.tenant}))
    if not found:
        raise NotFound("no such session")
    [row] = found
    gate = (await gates_of(db, [row], {row.id: row}))[row.id]
    access.ensure_may_see_session(
        principal,
        counselor_id=row.counselor_id,
        participant_ids={m.student.id for m in gate.members},
    )
    return _public(row._asdict(), gate, principal)


async def session_public(
    *, db: AsyncSession, principal: Principal, session: GuidanceSession
) -> dict[str, Any]:
    """The view of a session a change has just loaded (and may have changed)."""
    gates = await evaluate_many(db=db, sessions=[session])
    return _public(session.model_dump(), gates[session.id], principal)


async def rows_public(
    *, db: AsyncConnection, principal: Principal, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    """The views of a page of `with_context(*SESSION_COLUMNS)` rows (`plain_rows`); gates read
    together."""
    gates = await gates_of(db, rows, {r.id: r for r in rows})
    return [_public(r._asdict(), gates[r.id], principal) for r in rows]


def _public(session: Mapping[str, Any], gate: SessionGate, principal: Principal) -> dict[str, Any]:
    meeting = None
    if session["meeting_id"] and session["meeting_provisioned_at"] and session["meeting_provider"]:
        meeting = {
            "id": str(session["meeting_id"]),
            "provider": session["meeting_provider"],
            "provisioned_at": as_utc(session["meeting_provisioned_at"]),
        }
    return {
        **{name: str(session[name]) for name in _IDS},
        **{name: session[name] for name in _SHOWN},
        "scheduled_start": as_utc(session["scheduled_start"]).astimezone(
            ZoneInfo(session["timezone"])
        ),
        "created_at": as_utc(session["created_at"]),
        # Every participant is a member of the gate (each is a student of the school).
        "participant_ids": [str(m.student.id) for m in gate.members],
        "plan": plan.public(gate.plan),
        "gate": gate_public(gate, principal),
        "meeting": meeting,
    }


# Ids are written as text here: asyncpg's own UUID type (what PostgreSQL rows hold) costs
# pydantic-core's JSON writer about 3.7 µs each against 0.06 µs for its text, and a page of
# the list has about a thousand of them (a sixth of the list's CPU).
_IDS = ("id", "group_id", "counselor_id")
_SHOWN = (
    "title",
    "stage",
    "phase",
    "platform",
    "fallback_platform",
    "duration_minutes",
    "timezone",
)
