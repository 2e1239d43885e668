"""Authorization in one place: a dependency per kind of access, by role, scope and school."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from services.api.auth.principal import Principal, Role, Scope
from shared.problems import Forbidden
from shared.service_auth import bearer_token


# Async, though nothing here awaits: FastAPI runs a plain `def` dependency in its thread pool,
# a hop per dependency per request for what is a few microseconds of HMAC.
async def current_principal(request: Request) -> Principal:
    principal: Principal = request.app.state.access_tokens.verify(bearer_token(request))
    return principal


def allow(*roles: Role, scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only the given roles holding `scope`."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"the role {principal.role.value} may not do this")
        if scope.value not in principal.scopes:
            raise Forbidden(f"the token lacks the scope {scope.value}")
        return principal

    return check


SCHOOL_STAFF = (Role.school_admin, Role.counselor)
SCHOOL_PEOPLE = (Role.school_admin, Role.counselor, Role.student, Role.guardian)


def _alias(dep: Callable[..., Awaitable[Principal]]) -> Any:
    return Annotated[Principal, Depends(dep)]


StaffReader = _alias(allow(*SCHOOL_STAFF, scope=Scope.read))
StaffWriter = _alias(allow(*SCHOOL_STAFF, scope=Scope.write))
PersonReader = _alias(allow(*SCHOOL_PEOPLE, scope=Scope.read))
PersonWriter = _alias(allow(*SCHOOL_PEOPLE, scope=Scope.write))
SchoolAdmin = _alias(allow(Role.school_admin, scope=Scope.admin))
PlatformAdmin = _alias(allow(Role.platform_admin, scope=Scope.platform))
