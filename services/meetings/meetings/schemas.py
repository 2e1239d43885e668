"""Answers of the meetings routes that have no shared contract yet."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class CancelOut(BaseModel):
    """The meetings this cancellation ended (the same list again on a replay)."""

    cancelled: list[uuid.UUID]
