"""Writing the record of a session: one place that makes `SessionEvent` rows."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.sessions.models import GuidanceSession, SessionEvent

SYSTEM = "system"


def record(
    db: AsyncSession,
    session: GuidanceSession,
    *,
    kind: str,
    to: str,
    by: Principal | None = None,
    from_state: str | None = None,
    reason: str | None = None,
) -> SessionEvent:
    """Add one entry to the session's history (committed with the change it records)."""
    event = SessionEvent(
        school_id=session.school_id,
        session_id=session.id,
        kind=kind,
        actor=by.subject if by else SYSTEM,
        actor_role=by.role.value if by else SYSTEM,
        from_state=from_state,
        to_state=to,
        reason=reason,
    )
    db.add(event)
    return event
