"""A school's own consent wording: each change is a new version; none is ever edited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.principal import Principal
from services.api.consent.models import ConsentTextVersion
from services.api.consent.requests import ConsentAsker, ask_school_again
from services.api.consent.texts import GUARDIAN_ITEMS, Context, render
from services.api.consent.wording import DEFAULT_EMERGENCY, DEFAULT_RETENTION, merged
from shared.problems import InvalidInput
from shared.validation import Payload

LOCALES = ("id", "en")
TEXT_KEYS = ("title", "intro_student", "intro_guardian")


class Localised(BaseModel):
    id: str = Field(min_length=1, max_length=1000)
    en: str = Field(min_length=1, max_length=1000)


class SchoolWording(Payload):
    """Only what differs from Lingkar's default; placeholders as in the default text."""

    wording: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        examples=[
            {
                "id": {
                    "items": {
                        "emergency_contact": [
                            "Dalam keadaan darurat",
                            "Hubungi Bu Rina di 0812-0000-0000 atau 112.",
                        ]
                    }
                }
            }
        ],
    )
    retention: Localised | None = None
    emergency_contact: Localised | None = None

    @field_validator("wording")
    @classmethod
    def _known_parts(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for locale, parts in value.items():
            if locale not in LOCALES:
                raise ValueError(f"unknown language {locale!r} (use id or en)")
            for key, part in parts.items():
                if key == "items":
                    _check_items(part)
                elif key not in TEXT_KEYS:
                    raise ValueError(f"unknown part {key!r}")
                elif not isinstance(part, str) or not part.strip():
                    raise ValueError(f"{key} must be a non-empty text")
        return value


def _check_items(items: Any) -> None:
    if not isinstance(items, dict):
        raise ValueError("items must map item codes to [heading, text]")
    for code, pair in items.items():
        if code not in GUARDIAN_ITEMS:
            raise ValueError(f"unknown item {code!r}")
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(p, str) and p.strip() for p in pair)
        ):
            raise ValueError(f"item {code!r} must be [heading, text], both non-empty")


class VersionPublic(BaseModel):
    version: str
    created_at: datetime
    created_by: str


async def add_version(
    *, db: AsyncSession, principal: Principal, data: SchoolWording, asker: ConsentAsker
) -> ConsentTextVersion:
    """A new version; live sessions that asked for consent before ask again with it."""
    wording = merged(data.wording)
    retention = data.retention.model_dump() if data.retention else DEFAULT_RETENTION
    emergency = data.emergency_contact.model_dump() if data.emergency_contact else DEFAULT_EMERGENCY
    _renders(wording, retention, emergency)
    count = (
        await db.exec(
            select(func.count())
            .select_from(ConsentTextVersion)
            .where(ConsentTextVersion.school_id == principal.tenant)
        )
    ).one()
    version = ConsentTextVersion(
        school_id=principal.tenant,
        version=f"school-{count + 1}",
        wording=data.wording,
        retention=retention,
        emergency_contact=emergency,
        created_by=principal.subject,
    )
    db.add(version)
    await db.flush()
    await ask_school_again(db=db, school_id=principal.tenant, asker=asker)
    return version


def _renders(wording: dict[str, Any], retention: dict[str, str], emergency: dict[str, str]) -> None:
    """Refuse wording with a placeholder the text cannot fill, before anyone is shown it."""
    sample = Context(
        session_title="-",
        platform="jitsi",
        fallback_platform="zoom",
        school_name="-",
        counselor_name="-",
        student_name="-",
        max_members=10,
        guardian_age=18,
        retention=retention,
        emergency_contact=emergency,
    )
    for locale in LOCALES:
        for guardian in (False, True):
            try:
                render(
                    version="check",
                    wording=wording,
                    locale=locale,
                    guardian=guardian,
                    context=sample,
                )
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidInput(
                    f"wording.{locale}", f"a placeholder cannot be filled: {exc}"
                ) from exc


async def versions(*, db: AsyncSession, school_id: uuid.UUID) -> list[ConsentTextVersion]:
    rows = await db.exec(
        select(ConsentTextVersion)
        .where(ConsentTextVersion.school_id == school_id)
        .order_by(col(ConsentTextVersion.created_at))
    )
    return list(rows.all())
