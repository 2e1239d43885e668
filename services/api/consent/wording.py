"""Which consent text a school uses now, and rendering it for one session and signer."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.consent.models import ConsentTextVersion
from services.api.consent.texts import DEFAULT_VERSION, DEFAULT_WORDING, Context, ShownText, render
from services.api.schools.models import School
from services.api.sessions.models import GuidanceSession
from services.api.users.models import User
from shared.problems import Conflict

DEFAULT_RETENTION = {
    "id": "selama siswa bersekolah di sini ditambah satu tahun, lalu dihapus",
    "en": "while the student is at this school and for one year after, then deleted",
}
DEFAULT_EMERGENCY = {
    "id": "hubungi wali kelas atau kantor sekolah; dalam keadaan darurat yang mengancam jiwa, "
    "hubungi 112.",
    "en": "call the homeroom teacher or the school office; in a life-threatening emergency, "
    "call 112.",
}
WITHDRAW_HOW = {
    "id": "Kamu juga bisa meminta guru BK untuk menariknya.",
    "en": "You can also ask the counselor to withdraw it for you.",
}


async def newest_school_version(
    db: AsyncSession, school_id: uuid.UUID
) -> ConsentTextVersion | None:
    rows = await db.exec(
        select(ConsentTextVersion)
        .where(ConsentTextVersion.school_id == school_id)
        .order_by(col(ConsentTextVersion.created_at).desc())
        .limit(1)
    )
    return rows.first()


async def current_version(db: AsyncSession, school_id: uuid.UUID) -> str:
    newest = await newest_school_version(db, school_id)
    return newest.version if newest else DEFAULT_VERSION


async def version_data(
    db: AsyncSession, school_id: uuid.UUID, version: str
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The wording, retention and emergency contact of a version."""
    if version == DEFAULT_VERSION:
        return DEFAULT_WORDING, DEFAULT_RETENTION, DEFAULT_EMERGENCY
    row = (
        await db.exec(
            select(ConsentTextVersion).where(
                ConsentTextVersion.school_id == school_id, ConsentTextVersion.version == version
            )
        )
    ).first()
    if row is None:
        raise Conflict(f"the consent text version {version} does not exist")
    return merged(row.wording), row.retention, row.emergency_contact


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    wording = copy.deepcopy(DEFAULT_WORDING)
    for locale, parts in overrides.items():
        for key, value in parts.items():
            if key == "items":
                for code, pair in value.items():
                    wording[locale]["items"][code] = tuple(pair)
            else:
                wording[locale][key] = value
    return wording


async def shown_text(
    *,
    db: AsyncSession,
    session: GuidanceSession,
    student: User,
    guardian: bool,
    platform: str,
    fallback: str | None,
    version: str,
    locale: str,
) -> ShownText:
    school = await db.get(School, session.school_id)
    counselor = await db.get(User, session.counselor_id)
    assert school is not None and counselor is not None
    wording, retention, emergency = await version_data(db, school.id, version)
    context = Context(
        session_title=session.title,
        platform=platform,
        fallback_platform=fallback,
        school_name=school.name,
        counselor_name=counselor.name,
        student_name=student.name,
        max_members=school.max_group_size,
        guardian_age=school.guardian_consent_age,
        retention=retention,
        emergency_contact=emergency,
        withdraw_how=WITHDRAW_HOW,
    )
    return render(
        version=version, wording=wording, locale=locale, guardian=guardian, context=context
    )
