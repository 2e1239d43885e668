"""channels: fallbacks, provider statuses, unreachable contacts, schools' WhatsApp templates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_to", sa.JSON(), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fallbacks", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column(
                "provider_message_id",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("provider_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("read_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_provider_message_id"), ["provider_message_id"], unique=False
        )

    op.create_table(
        "unreachable_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "channel", "address"),
    )
    with op.batch_alter_table("unreachable_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unreachable_contact_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_unreachable_contact_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "whatsapp_template",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("body_parameters", sa.JSON(), nullable=False),
        sa.Column("link_button", sa.Boolean(), nullable=False),
        sa.Column("button_url_base", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("school_id", "event"),
    )
    with op.batch_alter_table("whatsapp_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_whatsapp_template_school_id"), ["school_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_template_school_id"))
    op.drop_table("whatsapp_template")
    with op.batch_alter_table("unreachable_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unreachable_contact_school_id"))
        batch_op.drop_index(batch_op.f("ix_unreachable_contact_person_id"))
    op.drop_table("unreachable_contact")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_provider_message_id"))
        batch_op.drop_column("read_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("provider_status")
        batch_op.drop_column("provider_message_id")
        batch_op.drop_column("fallbacks")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("report_to")
