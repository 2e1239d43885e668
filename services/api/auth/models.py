from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.api.db import ApiTable, created_at_field, id_field


class ApiClient(ApiTable, table=True):
    """An OAuth 2 client: a school's admin integration, or the operator's platform client."""

    __tablename__ = "api_client"

    id: uuid.UUID = id_field()
    client_id: str = Field(max_length=100, unique=True, index=True)
    secret_hash: str = Field(max_length=300)
    # None only for the operator's platform clients, which belong to no school.
    school_id: uuid.UUID | None = Field(default=None, foreign_key="school.id", index=True)
    name: str = Field(max_length=200)
    scopes: str = Field(max_length=500)
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = None
