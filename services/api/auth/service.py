"""Looking up what the token endpoint needs before authlib takes over."""

from __future__ import annotations

import base64
import binascii
import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.models import ApiClient
from services.api.auth.oauth import TOKEN_EXCHANGE, USER_ID_TOKEN_TYPE, Prefetched, SubjectUser
from services.api.auth.principal import Role
from services.api.users.models import User


def client_id_of(authorization: str | None, form: dict[str, str]) -> str | None:
    """The client id from HTTP Basic, or from the form (client_secret_post)."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        from urllib.parse import unquote

        return unquote(decoded.partition(":")[0])
    return form.get("client_id")


async def prefetch(*, db: AsyncSession, client_id: str | None, form: dict[str, str]) -> Prefetched:
    found = Prefetched()
    # A NUL cannot be in any client id, and PostgreSQL refuses to compare text holding one.
    if client_id and "\x00" not in client_id:
        client = (await db.exec(select(ApiClient).where(ApiClient.client_id == client_id))).first()
        if client:
            found.clients[client_id] = client
    if form.get("grant_type") == TOKEN_EXCHANGE and form.get("subject_token_type") == (
        USER_ID_TOKEN_TYPE
    ):
        found.subject = await _subject(db, form.get("subject_token", ""))
    return found


async def _subject(db: AsyncSession, raw_id: str) -> SubjectUser | None:
    try:
        user_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    user = await db.get(User, user_id)
    if user is None:
        return None
    return SubjectUser(id=user.id, school_id=user.school_id, role=Role(user.role))
