"""conclusions superseded by consolidation are kept as history: superseded_by, superseded_at

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conclusions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_by", sa.String(length=21), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conclusions", schema=None) as batch_op:
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("superseded_by")
