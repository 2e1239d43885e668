"""People of a school. Every lookup is scoped to the caller's school."""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal
from services.api.users.models import Guardianship, User
from services.api.users.schemas import GuardianLink, PersonRole, UserCreate
from shared.problems import Conflict, InvalidInput, NotFound


async def create(*, db: AsyncSession, school_id: uuid.UUID, data: UserCreate) -> User:
    user = User(school_id=school_id, **data.model_dump())
    db.add(user)
    await db.flush()
    return user


async def get(*, db: AsyncSession, school_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """The user, or `NotFound`, also when the user belongs to another school."""
    user = await db.get(User, user_id)
    if user is None or user.school_id != school_id:
        raise NotFound("no such user")
    return user


async def get_visible(*, db: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    user = await get(db=db, school_id=principal.tenant, user_id=user_id)
    access.ensure_may_see_person(principal, user.id)
    return user


async def get_many(
    *, db: AsyncSession, school_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, User]:
    rows = await db.exec(select(User).where(User.school_id == school_id, User.id.in_(ids)))  # type: ignore[attr-defined]
    return {u.id: u for u in rows.all()}


async def require_role(
    *, db: AsyncSession, school_id: uuid.UUID, user_id: uuid.UUID, role: PersonRole, field: str
) -> User:
    """The user named in a payload's `field`, who must exist in the school with `role`."""
    user = await db.get(User, user_id)
    if user is None or user.school_id != school_id:
        raise InvalidInput(field, f"no user {user_id} in this school")
    if user.role != role:
        raise InvalidInput(field, f"user {user_id} is a {user.role}, not a {role.value}")
    return user


async def add_guardian(
    *, db: AsyncSession, school_id: uuid.UUID, student_id: uuid.UUID, link: GuardianLink
) -> Guardianship:
    student = await get(db=db, school_id=school_id, user_id=student_id)
    if student.role != PersonRole.student:
        raise Conflict("guardians are linked to students only")
    await require_role(
        db=db,
        school_id=school_id,
        user_id=link.guardian_id,
        role=PersonRole.guardian,
        field="guardian_id",
    )
    existing = (
        await db.exec(
            select(Guardianship).where(
                Guardianship.student_id == student_id, Guardianship.guardian_id == link.guardian_id
            )
        )
    ).first()
    if existing:
        raise Conflict("this guardian is already linked to this student")
    guardianship = Guardianship(
        school_id=school_id,
        student_id=student_id,
        guardian_id=link.guardian_id,
        relationship=link.relationship.value,
    )
    db.add(guardianship)
    await db.flush()
    # Imported here: sessions build on users, and a guardian can complete a minor's gate.
    from services.api.sessions import preparation

    await preparation.member_changed(db=db, student_id=student_id)
    return guardianship
