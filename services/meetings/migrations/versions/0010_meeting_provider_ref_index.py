"""index meetings by the provider's id (Zoom's webhooks name a meeting by it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 19:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_provider_ref"), ["provider_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_provider_ref"))
