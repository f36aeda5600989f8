"""v1: the tables of Honcho's first API on the same memory (aliases of app and user names, the app's assistant
peer, metamessages, user collections and their documents)

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, Json, UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMED = sa.text("name IS NOT NULL")


def _peer(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"],
                                   name=op.f(f"fk_{table}_workspace_id_peers"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "v1_apps",
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("assistant_peer_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_v1_apps_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assistant_peer_id"], ["peers.id"], name=op.f("fk_v1_apps_assistant_peer_id_peers"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_v1_apps")),
    )
    op.create_index("uq_v1_apps_name", "v1_apps", ["name"], unique=True, postgresql_where=NAMED,
                    sqlite_where=NAMED)
    op.create_table(
        "v1_users",
        sa.Column("peer_id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        _peer("v1_users"),
        sa.PrimaryKeyConstraint("peer_id", name=op.f("pk_v1_users")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_v1_users_workspace_id_name")),
    )
    op.create_table(
        "v1_metamessages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=21), nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("peer_id", BigId, nullable=False),
        sa.Column("session_id", BigId, nullable=True),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("metamessage_type", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_v1_metamessages_message_id_messages"),
                                ondelete="CASCADE"),
        _peer("v1_metamessages"),
        sa.ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                                name=op.f("fk_v1_metamessages_workspace_id_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v1_metamessages")),
        sa.UniqueConstraint("uid", name=op.f("uq_v1_metamessages_uid")),
    )
    op.create_index(op.f("ix_v1_metamessages_peer_id_created_at"), "v1_metamessages", ["peer_id", "created_at"])
    op.create_index(op.f("ix_v1_metamessages_session_id"), "v1_metamessages", ["session_id"])
    op.create_index(op.f("ix_v1_metamessages_message_id"), "v1_metamessages", ["message_id"])
    op.create_table(
        "v1_collections",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=21), nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("peer_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _peer("v1_collections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v1_collections")),
        sa.UniqueConstraint("uid", name=op.f("uq_v1_collections_uid")),
        sa.UniqueConstraint("peer_id", "name", name=op.f("uq_v1_collections_peer_id_name")),
    )
    op.create_table(
        "v1_documents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=21), nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("collection_id", BigId, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["v1_collections.id"],
                                name=op.f("fk_v1_documents_collection_id_v1_collections"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_v1_documents_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v1_documents")),
        sa.UniqueConstraint("uid", name=op.f("uq_v1_documents_uid")),
    )
    op.create_index(op.f("ix_v1_documents_collection_id_created_at"), "v1_documents", ["collection_id", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_v1_documents_collection_id_created_at"), table_name="v1_documents")
    op.drop_table("v1_documents")
    op.drop_table("v1_collections")
    for name in ("message_id", "session_id", "peer_id_created_at"):
        op.drop_index(op.f(f"ix_v1_metamessages_{name}"), table_name="v1_metamessages")
    op.drop_table("v1_metamessages")
    op.drop_table("v1_users")
    op.drop_index("uq_v1_apps_name", table_name="v1_apps", postgresql_where=NAMED, sqlite_where=NAMED)
    op.drop_table("v1_apps")
