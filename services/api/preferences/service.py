"""Reading and setting a person's notification preferences (kept on their user)."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.preferences.schemas import Preferences, PreferencesIn
from services.api.users import service as users
from services.api.users.models import User
from shared.contracts.notifications import DEFAULT_CHANNEL_ORDER, ChannelName
from shared.problems import Forbidden


def own_id(principal: Principal) -> uuid.UUID:
    """The person the caller acts for; a school's admin client acts for nobody."""
    if principal.user_id is None:
        raise Forbidden("this token acts for no person: exchange it for one of the school's users")
    return principal.user_id


def public(user: User) -> Preferences:
    addresses = {
        ChannelName.telegram: user.telegram_chat_id,
        ChannelName.whatsapp: user.phone,
        ChannelName.email: user.email,
    }
    chosen = [ChannelName(c) for c in user.channels] if user.channels else None
    return Preferences(
        channels=chosen,
        order=[c for c in chosen or DEFAULT_CHANNEL_ORDER if addresses[c]],
        opt_out_non_essential=user.opt_out_non_essential,
    )


async def read(*, db: AsyncSession, school_id: uuid.UUID, user_id: uuid.UUID) -> Preferences:
    """The person's preferences; `NotFound` for someone of another school."""
    return public(await users.get(db=db, school_id=school_id, user_id=user_id))


async def write(
    *, db: AsyncSession, school_id: uuid.UUID, user_id: uuid.UUID, data: PreferencesIn
) -> Preferences:
    """Replace the person's preferences; they apply to every message sent from now on."""
    user = await users.get(db=db, school_id=school_id, user_id=user_id)
    user.channels = [c.value for c in data.channels] if data.channels else None
    user.opt_out_non_essential = data.opt_out_non_essential
    db.add(user)
    await db.flush()
    return public(user)
