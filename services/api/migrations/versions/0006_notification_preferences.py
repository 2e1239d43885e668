"""a person's notification preferences: channels in order, opting out of non-essential ones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "opt_out_non_essential",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("opt_out_non_essential")
        batch_op.drop_column("channels")
