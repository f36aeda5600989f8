"""conclusions (with provenance and a stored embedding) and peer cards

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, Json, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _peer_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["workspace_id", column], ["peers.workspace_id", "peers.id"],
                                   name=op.f(f"fk_{table}_workspace_id_{column}_peers"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "conclusions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=21), nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("observer_id", BigId, nullable=False),
        sa.Column("observed_id", BigId, nullable=False),
        sa.Column("session_id", BigId, nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("times_derived", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("message_ids", Json, nullable=True),
        sa.Column("source_ids", Json, nullable=True),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("about_at", UTCDateTime(), nullable=True),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("level IN ('explicit', 'deductive', 'inductive', 'contradiction')",
                           name=op.f("ck_conclusions_level")),
        _peer_fk("conclusions", "observer_id"),
        _peer_fk("conclusions", "observed_id"),
        sa.ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                                name=op.f("fk_conclusions_workspace_id_session_id_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conclusions")),
        sa.UniqueConstraint("uid", name=op.f("uq_conclusions_uid")),
    )
    with op.batch_alter_table("conclusions", schema=None) as batch_op:
        for columns in (["observer_id", "observed_id", "created_at"], ["observer_id", "observed_id", "fingerprint"],
                        ["workspace_id", "created_at"], ["session_id"]):
            batch_op.create_index(batch_op.f(f"ix_conclusions_{'_'.join(columns)}"), columns, unique=False)
    op.create_table(
        "peer_cards",
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("observer_id", BigId, nullable=False),
        sa.Column("observed_id", BigId, nullable=False),
        sa.Column("entries", Json, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _peer_fk("peer_cards", "observer_id"),
        _peer_fk("peer_cards", "observed_id"),
        sa.PrimaryKeyConstraint("observer_id", "observed_id", name=op.f("pk_peer_cards")),
    )
    with op.batch_alter_table("peer_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_cards_observed_id"), ["observed_id"], unique=False)


def downgrade() -> None:
    op.drop_table("peer_cards")
    op.drop_table("conclusions")
