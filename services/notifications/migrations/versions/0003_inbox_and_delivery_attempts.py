"""the in-app inbox and the record of every delivery attempt

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("person_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("visible_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("read_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "person_id"),
    )
    with op.batch_alter_table("inbox_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_item_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(
            "ix_inbox_item_person_visible",
            ["school_id", "person_id", "visible_at", "id"],
            unique=False,
        )

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempt_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_attempt_school_id"), ["school_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempt_school_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_attempt_delivery_id"))
    op.drop_table("delivery_attempt")
    with op.batch_alter_table("inbox_item", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_item_person_visible")
        batch_op.drop_index(batch_op.f("ix_inbox_item_notification_id"))
    op.drop_table("inbox_item")
