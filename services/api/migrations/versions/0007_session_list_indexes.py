"""a counselor's sessions in keyset order

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:15:00

A counselor listing their sessions filters on counselor_id and pages by (scheduled_start, id);
with only the school's index, PostgreSQL walks every session of the school to find theirs.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guidance_session", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_counselor_start", ["counselor_id", "scheduled_start", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guidance_session", schema=None) as batch_op:
        batch_op.drop_index("ix_session_counselor_start")
