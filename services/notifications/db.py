"""The notifications service's own table registry and per-request session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import session_dependency


class NotificationsTable(SQLModel, registry=registry()):
    """Base of every notifications table."""


def _engine(request: Request) -> Any:
    return request.app.state.engine


get_db = session_dependency(_engine)
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
