"""The api service's own table registry and the per-request database session."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import session_dependency
from shared.timeutil import utcnow


class ApiTable(SQLModel, registry=registry()):
    """Base of every api table; its metadata is the api's alone."""


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, nullable=False)


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _prepare(request: Request, session: AsyncSession) -> None:
    relay = getattr(request.app.state, "outbox_relay", None)
    if relay is not None:
        session.info["wake_outbox"] = relay.wake


get_db = session_dependency(_engine, _prepare)
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
