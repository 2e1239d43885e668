"""Groups: a counselor as leader and a number of students within the school's bounds."""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import access
from services.api.auth.principal import Principal
from services.api.groups.models import Group, GroupMember
from services.api.groups.schemas import GroupCreate
from services.api.schools import service as school_service
from services.api.users import service as user_service
from services.api.users.models import User
from services.api.users.schemas import PersonRole
from shared.problems import InvalidInput, NotFound


async def create(*, db: AsyncSession, principal: Principal, data: GroupCreate) -> Group:
    school = await school_service.get(db=db, school_id=principal.tenant)
    access.ensure_may_lead(principal, data.counselor_id)
    count = len(data.member_ids)
    if not school.min_group_size <= count <= school.max_group_size:
        raise InvalidInput(
            "member_ids",
            f"a group at this school has {school.min_group_size} to {school.max_group_size} "
            f"members; {count} given",
        )
    await user_service.require_role(
        db=db,
        school_id=school.id,
        user_id=data.counselor_id,
        role=PersonRole.counselor,
        field="counselor_id",
    )
    students = await user_service.get_many(db=db, school_id=school.id, ids=data.member_ids)
    for index, student_id in enumerate(data.member_ids):
        student = students.get(student_id)
        if student is None or student.role != PersonRole.student:
            raise InvalidInput(
                f"member_ids.{index}", f"{student_id} is not a student of this school"
            )
    group = Group(
        school_id=school.id, name=data.name, counselor_id=data.counselor_id, field=data.field.value
    )
    db.add(group)
    await db.flush()
    db.add_all(
        GroupMember(group_id=group.id, student_id=s, school_id=school.id) for s in data.member_ids
    )
    await db.flush()
    return group


async def get(*, db: AsyncSession, principal: Principal, group_id: uuid.UUID) -> Group:
    group = await db.get(Group, group_id)
    if group is None or group.school_id != principal.tenant:
        raise NotFound("no such group")
    access.ensure_may_see_group(principal, group.counselor_id)
    return group


async def members(*, db: AsyncSession, group: Group) -> list[User]:
    rows = await db.exec(
        select(User)
        .join(GroupMember, GroupMember.student_id == User.id)  # type: ignore[arg-type]
        .where(GroupMember.group_id == group.id, User.school_id == group.school_id)
        .order_by(User.name)
    )
    return list(rows.all())
