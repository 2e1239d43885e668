"""What the api service answers the other services."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MemberClearance(BaseModel):
    """Asked by the join gate at the moment of a click: is this member still cleared?"""

    cleared: bool
    reasons: list[str] = Field(default_factory=list)
