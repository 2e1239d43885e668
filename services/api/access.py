"""Who may see and do what inside a school, decided here and only here.

Routes admit roles and scopes through `auth.deps`; these functions add the rules that need the
resource: a counselor acts on the groups they lead, a student sees their own sessions. A
resource of another school is reported as not found, never as forbidden, so its existence
does not leak.
"""

from __future__ import annotations

import uuid

from services.api.auth.principal import Principal, Role
from shared.problems import Forbidden, NotFound


def ensure_may_lead(principal: Principal, counselor_id: uuid.UUID) -> None:
    """A counselor creates groups only with themselves as leader; an admin, for anyone."""
    if principal.role == Role.counselor and principal.user_id != counselor_id:
        raise Forbidden("a counselor may create groups they lead themselves only")


def ensure_may_see_person(principal: Principal, person_id: uuid.UUID) -> None:
    if principal.role in (Role.school_admin, Role.counselor) or principal.user_id == person_id:
        return
    raise NotFound("no such user")


def ensure_may_see_group(principal: Principal, counselor_id: uuid.UUID) -> None:
    if principal.role == Role.school_admin:
        return
    if principal.role == Role.counselor and principal.user_id == counselor_id:
        return
    raise NotFound("no such group")


def ensure_may_see_session(
    principal: Principal, *, counselor_id: uuid.UUID, participant_ids: set[uuid.UUID]
) -> None:
    if principal.role == Role.school_admin:
        return
    if principal.role == Role.counselor and principal.user_id == counselor_id:
        return
    if principal.role == Role.student and principal.user_id in participant_ids:
        return
    raise NotFound("no such session")


def ensure_may_run_session(principal: Principal, *, counselor_id: uuid.UUID) -> None:
    """Changing a session: its counselor, or the school admin."""
    if principal.role == Role.school_admin:
        return
    if principal.role == Role.counselor and principal.user_id == counselor_id:
        return
    raise Forbidden("only the session's counselor or a school admin may change it")


def own_person(principal: Principal) -> uuid.UUID:
    """The person acting; only a user (directly, or through the token exchange) has an inbox."""
    if principal.user_id is None:
        raise Forbidden("only a person has an inbox: act as one of the school's users")
    return principal.user_id
