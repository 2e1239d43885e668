"""Schools and their admin clients: what the operator does to bring a school on."""

from __future__ import annotations

import secrets
import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.auth.models import ApiClient
from services.api.auth.principal import SCHOOL_ADMIN_SCOPES, Scope
from services.api.auth.secrets import hash_secret, new_client_secret
from services.api.schools.models import School
from services.api.schools.schemas import ClientCredentials, SchoolCreate
from shared.problems import NotFound


async def create(*, db: AsyncSession, data: SchoolCreate) -> tuple[School, ClientCredentials]:
    """A school and its first admin client, whose secret is returned this once."""
    school = School(**data.model_dump())
    db.add(school)
    await db.flush()
    credentials = await create_client(
        db=db,
        name=f"{school.name} admin",
        school_id=school.id,
        scopes=[s.value for s in SCHOOL_ADMIN_SCOPES],
    )
    return school, credentials


async def create_client(
    *,
    db: AsyncSession,
    name: str,
    school_id: uuid.UUID | None,
    scopes: list[str],
    client_id: str | None = None,
    client_secret: str | None = None,
) -> ClientCredentials:
    client_id = client_id or f"lk_{secrets.token_hex(8)}"
    client_secret = client_secret or new_client_secret()
    db.add(
        ApiClient(
            client_id=client_id,
            secret_hash=hash_secret(client_secret),
            school_id=school_id,
            name=name,
            scopes=" ".join(sorted(scopes)),
        )
    )
    await db.flush()
    return ClientCredentials(client_id=client_id, client_secret=client_secret, scopes=scopes)


async def create_platform_client(*, db: AsyncSession, name: str) -> ClientCredentials:
    return await create_client(db=db, name=name, school_id=None, scopes=[Scope.platform.value])


async def get(*, db: AsyncSession, school_id: uuid.UUID) -> School:
    school = await db.get(School, school_id)
    if school is None:
        raise NotFound("no such school")
    return school


async def list_all(*, db: AsyncSession) -> list[School]:
    return list((await db.exec(select(School).order_by(col(School.created_at)))).all())


async def ensure_dev_school(*, db: AsyncSession, client_id: str, client_secret: str) -> None:
    """Dev mode only: a demo school and an admin client with the well-known credentials."""
    exists = (await db.exec(select(ApiClient).where(ApiClient.client_id == client_id))).first()
    if exists:
        return
    school = School(name="Sekolah Demo Lingkar")
    db.add(school)
    await db.flush()
    await create_client(
        db=db,
        name="Dev admin",
        school_id=school.id,
        scopes=[s.value for s in SCHOOL_ADMIN_SCOPES],
        client_id=client_id,
        client_secret=client_secret,
    )
