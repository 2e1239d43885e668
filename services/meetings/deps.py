"""Dependencies every domain of the meetings service shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

# The caller's key for a request it may send again; the same key gets the same answer.
IdempotencyKey = Annotated[str, Header(min_length=8, max_length=200)]
