"""Notification preferences: a person sets their own; a school admin sets anyone's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.auth.deps import PersonReader, PersonWriter, SchoolAdmin
from services.api.db import DbSession
from services.api.preferences import service
from services.api.preferences.schemas import Preferences, PreferencesIn
from shared.problems import problem_responses

me = APIRouter(
    prefix="/v1/me/preferences", tags=["preferences"], responses=problem_responses(401, 403)
)
people = APIRouter(
    prefix="/v1/users/{user_id}/preferences",
    tags=["preferences"],
    responses=problem_responses(401, 403, 404),
)


@me.get("", response_model=Preferences)
async def my_preferences(db: DbSession, principal: PersonReader) -> Preferences:
    """How the caller is told things: their channels in order, and opting out of reminders."""
    user_id = service.own_id(principal)
    return await service.read(db=db, school_id=principal.tenant, user_id=user_id)


@me.put("", response_model=Preferences)
async def set_my_preferences(
    data: PreferencesIn, db: DbSession, principal: PersonWriter
) -> Preferences:
    """Set the caller's own channels in order and whether they want non-essential messages."""
    user_id = service.own_id(principal)
    return await service.write(db=db, school_id=principal.tenant, user_id=user_id, data=data)


@people.get("", response_model=Preferences)
async def preferences_of(user_id: uuid.UUID, db: DbSession, principal: SchoolAdmin) -> Preferences:
    """A person's preferences, for their school's admin."""
    return await service.read(db=db, school_id=principal.tenant, user_id=user_id)


@people.put("", response_model=Preferences)
async def set_preferences_of(
    user_id: uuid.UUID, data: PreferencesIn, db: DbSession, principal: SchoolAdmin
) -> Preferences:
    """Set a person's preferences on their word (a school admin)."""
    return await service.write(db=db, school_id=principal.tenant, user_id=user_id, data=data)
