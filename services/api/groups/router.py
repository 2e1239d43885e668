from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.auth.deps import StaffReader, StaffWriter
from services.api.db import DbSession
from services.api.groups import service
from services.api.groups.models import Group
from services.api.groups.schemas import GroupCreate, GroupMemberPublic, GroupPublic
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/groups", tags=["groups"], responses=problem_responses(401, 403, 404))


async def _public(db: DbSession, group: Group) -> GroupPublic:
    members = await service.members(db=db, group=group)
    return GroupPublic.model_validate(
        {
            **group.model_dump(),
            "members": [GroupMemberPublic(student_id=m.id, name=m.name) for m in members],
        }
    )


@router.post(
    "",
    status_code=201,
    response_model=GroupPublic,
    responses={422: {"description": "Size outside the school's bounds, or bad members"}},
)
async def create_group(data: GroupCreate, db: DbSession, principal: StaffWriter) -> GroupPublic:
    group = await service.create(db=db, principal=principal, data=data)
    return await _public(db, group)


@router.get("/{group_id}", response_model=GroupPublic)
async def get_group(group_id: uuid.UUID, db: DbSession, principal: StaffReader) -> GroupPublic:
    group = await service.get(db=db, principal=principal, group_id=group_id)
    return await _public(db, group)
