"""The api service's own table registry and the per-request database session."""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, CursorResult, Select, Table, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import read_dependency, session_dependency
from shared.timeutil import utcnow


class ApiTable(SQLModel, registry=registry()):
    """Base of every api table; its metadata is the api's alone."""


def columns(model: type[SQLModel]) -> Any:
    """A table model's Core columns (`Model.__table__.c`), for reads that build no ORM object."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table.c


def table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


# `among(column, "name")`: the column's value is one of the list bound as `name`.
Among = Callable[[Any, str], ColumnElement[bool]]


def _any_of_array(column: Any, name: str) -> ColumnElement[bool]:
    return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))


def _in_expanded(column: Any, name: str) -> ColumnElement[bool]:
    return column.in_(bindparam(name, expanding=True))


@dataclass(frozen=True, slots=True)
class PerDatabase:
    """A statement that matches lists, in the form each database runs best.

    PostgreSQL gets `= ANY(:list)` with the list bound as one array: the statement compiles
    once and stays one prepared statement whatever the list's length. An expanding `IN`
    (SQLite's only form) is compiled again at every execution, about a tenth of a read's CPU.
    """

    postgresql: Select[Any]
    other: Select[Any]

    @classmethod
    def build(cls, statement: Callable[[Among], Select[Any]]) -> PerDatabase:
        return cls(postgresql=statement(_any_of_array), other=statement(_in_expanded))

    def on(self, connection: AsyncConnection) -> Select[Any]:
        return self.postgresql if connection.dialect.name == "postgresql" else self.other


def plain_rows(result: CursorResult[Any]) -> list[Any]:
    """The result's rows as named tuples, for code that reads many rows' columns by name.

    Reading a column of SQLAlchemy's `Row` by name costs about 1 µs (2 µs through `_mapping`);
    of a named tuple, a few hundredths of that, and making one costs about 1 µs. A page of the
    list reads some ten thousand columns.
    """
    shape = _shape(tuple(result.keys()))
    return [shape._make(row) for row in result]


@lru_cache(maxsize=256)
def _shape(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names)


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
# For the hot routes that only read: a connection in autocommit, no ORM session.
ReadDb = Annotated[AsyncConnection, Depends(read_dependency(_engine), scope="function")]
