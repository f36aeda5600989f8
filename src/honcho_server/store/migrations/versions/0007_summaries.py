"""session summaries: short and long, each covering the session up to its last message

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("session_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("last_seq", BigId, nullable=False),
        sa.Column("message_uid", sa.String(length=21), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('short', 'long')", name=op.f("ck_summaries_kind")),
        sa.ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                                name=op.f("fk_summaries_workspace_id_session_id_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summaries")),
        sa.UniqueConstraint("session_id", "kind", "last_seq", name=op.f("uq_summaries_session_id_kind_last_seq")),
    )


def downgrade() -> None:
    op.drop_table("summaries")
