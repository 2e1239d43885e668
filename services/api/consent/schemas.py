from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ConsentPublic(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    signer: str
    signer_id: uuid.UUID
    signer_name: str
    relationship: str | None
    platform: str
    text_version: str
    text_hash: str
    locale: str
    items: list[str]
    decision: str
    channel: str
    decided_at: datetime
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
