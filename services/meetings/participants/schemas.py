"""Answers of the participants routes that have no shared contract yet."""

from __future__ import annotations

from pydantic import BaseModel


class RevokeOut(BaseModel):
    """False when the person held no active link: nothing was left to revoke."""

    revoked: bool
