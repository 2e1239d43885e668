"""Who is calling: the one object every authorization decision in the api looks at."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    platform_admin = "platform_admin"
    school_admin = "school_admin"
    counselor = "counselor"
    student = "student"
    guardian = "guardian"


class Scope(StrEnum):
    read = "school.read"
    write = "school.write"
    admin = "school.admin"
    platform = "platform.admin"


SCHOOL_ADMIN_SCOPES = (Scope.read, Scope.write, Scope.admin)
USER_SCOPES = (Scope.read, Scope.write)


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    subject: str
    client_id: str
    scopes: frozenset[str]
    school_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    @property
    def tenant(self) -> uuid.UUID:
        """The caller's school; only platform principals have none, and they never ask."""
        assert self.school_id is not None, "a platform principal has no school"
        return self.school_id
