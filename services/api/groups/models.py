from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field


class Group(ApiTable, table=True):
    __tablename__ = "guidance_group"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    name: str = Field(max_length=200)
    counselor_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    field: str = Field(max_length=20)
    created_at: datetime = created_at_field()


class GroupMember(ApiTable, table=True):
    __tablename__ = "group_member"

    group_id: uuid.UUID = Field(foreign_key="guidance_group.id", primary_key=True)
    student_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, index=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
