"""jobs: a merge key (queued work of one unit kept as one pending row) and indexes for pruning done jobs

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
DONE = sa.text("status = 'done'")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merge_key", sa.String(length=1100), nullable=True))
        batch_op.create_index("uq_jobs_merge_key_pending", ["merge_key"], unique=True,
                              postgresql_where=PENDING, sqlite_where=PENDING)
        batch_op.create_index(batch_op.f("ix_jobs_status_updated_at"), ["status", "updated_at"], unique=False)
        batch_op.create_index("ix_jobs_dedupe_key_done", ["dedupe_key"], unique=False,
                              postgresql_where=DONE, sqlite_where=DONE)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_dedupe_key_done", postgresql_where=DONE, sqlite_where=DONE)
        batch_op.drop_index(batch_op.f("ix_jobs_status_updated_at"))
        batch_op.drop_index("uq_jobs_merge_key_pending", postgresql_where=PENDING, sqlite_where=PENDING)
        batch_op.drop_column("merge_key")
