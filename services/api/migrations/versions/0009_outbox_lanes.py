"""outbox lanes: one session's calls to one service are delivered in order, one at a time

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_lane"), ["lane"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_lane"))
        batch_op.drop_column("lane")
