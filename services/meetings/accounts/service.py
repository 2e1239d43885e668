"""Schools' provider accounts: stored with secrets encrypted, read back only to call a provider.

Encryption is `shared.secret_box.SecretBox` (Fernet, keys from the environment, rotatable). A
secret never leaves this module except inside the account object an adapter is built from.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import SecretStr
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meetings.accounts.models import ProviderAccount
from services.meetings.providers.accounts import (
    GoogleMeetAccount,
    JaasAccount,
    JitsiAccount,
    ZoomAccount,
)
from shared.contracts.providers import (
    GoogleMeetAccountIn,
    JitsiAccountIn,
    ProviderStatus,
    ZoomAccountIn,
)
from shared.secret_box import SecretBox
from shared.stages import Provider
from shared.timeutil import utcnow

Account = ZoomAccount | GoogleMeetAccount | JitsiAccount | JaasAccount
AccountIn = ZoomAccountIn | GoogleMeetAccountIn | JitsiAccountIn


def _split(data: AccountIn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings in clear, secrets to encrypt)."""
    settings, secrets = {}, {}
    for name, value in data.model_dump().items():
        if isinstance(value, SecretStr):
            secrets[name] = value.get_secret_value()
        elif value is not None:
            settings[name] = value
    return settings, secrets


async def save(
    *, db: AsyncSession, box: SecretBox, school_id: uuid.UUID, provider: Provider, data: AccountIn
) -> ProviderAccount:
    settings, secrets = _split(data)
    account = (
        await db.exec(
            select(ProviderAccount).where(
                ProviderAccount.school_id == school_id, ProviderAccount.provider == provider.value
            )
        )
    ).first() or ProviderAccount(
        school_id=school_id, provider=provider.value, settings={}, secrets=""
    )
    account.settings, account.secrets, account.updated_at = settings, box.seal(secrets), utcnow()
    db.add(account)
    await db.flush()
    return account


async def load(
    *, db: AsyncSession, box: SecretBox, school_id: uuid.UUID, provider: Provider
) -> Account | None:
    row = (
        await db.exec(
            select(ProviderAccount).where(
                ProviderAccount.school_id == school_id, ProviderAccount.provider == provider.value
            )
        )
    ).first()
    if row is None:
        return None
    return _account(provider, row.settings, box.open(row.secrets))


def _account(provider: Provider, settings: dict[str, Any], secrets: dict[str, Any]) -> Account:
    if provider == Provider.zoom:
        return ZoomAccount(**settings, **secrets)
    if provider == Provider.google_meet:
        return GoogleMeetAccount(
            service_account_info=json.loads(secrets["service_account_json"]),
            impersonate_domain_users=settings.get("impersonate_domain_users", True),
        )
    if settings.get("jaas_app_id"):
        return JaasAccount(
            app_id=settings["jaas_app_id"],
            key_id=settings["jaas_key_id"],
            private_key=secrets["jaas_private_key"],
            features=settings.get("jaas_features", {}),
        )
    return JitsiAccount(
        server_url=settings["server_url"],
        app_id=settings.get("app_id"),
        app_secret=secrets.get("app_secret"),
    )


async def statuses(*, db: AsyncSession, school_id: uuid.UUID) -> list[ProviderStatus]:
    rows = {
        r.provider: r
        for r in (
            await db.exec(select(ProviderAccount).where(ProviderAccount.school_id == school_id))
        ).all()
    }
    found = []
    for provider in Provider:
        row = rows.get(provider.value)
        shown = {k: v for k, v in (row.settings if row else {}).items() if k != "jaas_features"}
        found.append(
            ProviderStatus(
                provider=provider.value,
                configured=row is not None,
                # Jitsi works for every school on the default server, without an account.
                usable=row is not None or provider == Provider.jitsi,
                details=shown,
            )
        )
    return found


async def webhook_secret(*, db: AsyncSession, box: SecretBox, school_id: uuid.UUID) -> str | None:
    account = await load(db=db, box=box, school_id=school_id, provider=Provider.zoom)
    return account.webhook_secret_token if isinstance(account, ZoomAccount) else None
