"""the record of each calling-off of scheduled notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cancellation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("cancellation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cancellation_school_id"), ["school_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cancellation_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cancellation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellation_session_id"))
        batch_op.drop_index(batch_op.f("ix_cancellation_school_id"))
    op.drop_table("cancellation")
