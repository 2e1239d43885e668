"""a session's schedule sequence (calendar invites' SEQUENCE, reminders' generation)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guidance_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("schedule_sequence", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("guidance_session", schema=None) as batch_op:
        batch_op.drop_column("schedule_sequence")
