"""scopes (named sets of sessions with a hidden observer peer) and their session memberships with backfill state

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, Json, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scopes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("peer_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_scopes_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"],
                                name=op.f("fk_scopes_workspace_id_peer_id_peers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scopes")),
        sa.UniqueConstraint("peer_id", name=op.f("uq_scopes_peer_id")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_scopes_workspace_id_name")),
    )
    op.create_table(
        "scope_sessions",
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("scope_id", BigId, nullable=False),
        sa.Column("session_id", BigId, nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime(), nullable=True),
        sa.Column("backfill_state", sa.String(length=16), nullable=True),
        sa.Column("backfill_updated_at", UTCDateTime(), nullable=True),
        sa.Column("docs_copied", sa.Integer(), nullable=True),
        sa.CheckConstraint("backfill_state IN ('pending', 'completed', 'failed')",
                           name=op.f("ck_scope_sessions_backfill_state")),
        sa.ForeignKeyConstraint(["scope_id"], ["scopes.id"], name=op.f("fk_scope_sessions_scope_id_scopes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                                name=op.f("fk_scope_sessions_workspace_id_session_id_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scope_id", "session_id", name=op.f("pk_scope_sessions")),
    )
    op.create_index(op.f("ix_scope_sessions_session_id"), "scope_sessions", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scope_sessions_session_id"), table_name="scope_sessions")
    op.drop_table("scope_sessions")
    op.drop_table("scopes")
