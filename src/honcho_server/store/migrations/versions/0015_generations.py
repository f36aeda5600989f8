"""generations: every derived row (summaries, conclusions, peer cards) belongs to one; one active per workspace

Existing workspaces get generation 1, active, its recipe marked as inferred (which model made the old rows is not
known), and every existing derived row is stamped with it.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, Json, UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("state = 'active'")
DERIVED = ("summaries", "conclusions", "peer_cards")


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recipe", Json, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scope", Json, nullable=False),
        sa.Column("started_by", sa.String(length=256), nullable=False),
        sa.Column("progress", Json, nullable=False),
        sa.Column("estimate", Json, nullable=True),
        sa.Column("max_cost_usd", sa.Float(), nullable=True),
        sa.Column("previous_id", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ready_at", UTCDateTime(), nullable=True),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("state IN ('building', 'ready', 'active', 'retired', 'failed')",
                           name=op.f("ck_generations_state")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_generations_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generations")),
        sa.UniqueConstraint("workspace_id", "number", name=op.f("uq_generations_workspace_id_number")),
    )
    op.create_index("uq_generations_active", "generations", ["workspace_id"], unique=True,
                    postgresql_where=ACTIVE, sqlite_where=ACTIVE)
    op.execute(
        "INSERT INTO generations (workspace_id, number, state, recipe, fingerprint, scope, started_by, progress, "
        "created_at, activated_at) "
        "SELECT id, 1, 'active', '{\"inferred\": true}', '', '{}', 'migration', '{}', created_at, created_at "
        "FROM workspaces")
    for table in DERIVED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("generation_id", BigId, nullable=True))
        op.execute(f"UPDATE {table} SET generation_id = (SELECT g.id FROM generations g "
                   f"WHERE g.workspace_id = {table}.workspace_id AND g.state = 'active')")
    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.alter_column("generation_id", existing_type=BigId, nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_summaries_session_id_kind_last_seq"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_summaries_generation_id_session_id_kind_last_seq"),
                                          ["generation_id", "session_id", "kind", "last_seq"])
        batch_op.create_foreign_key(batch_op.f("fk_summaries_generation_id_generations"), "generations",
                                    ["generation_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("conclusions", schema=None) as batch_op:
        batch_op.alter_column("generation_id", existing_type=BigId, nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_conclusions_generation_id_generations"), "generations",
                                    ["generation_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_conclusions_generation_id"), ["generation_id"], unique=False)
    with op.batch_alter_table("peer_cards", schema=None) as batch_op:
        batch_op.alter_column("generation_id", existing_type=BigId, nullable=False)
        batch_op.drop_constraint(batch_op.f("pk_peer_cards"), type_="primary")
        batch_op.create_primary_key(batch_op.f("pk_peer_cards"), ["generation_id", "observer_id", "observed_id"])
        batch_op.create_foreign_key(batch_op.f("fk_peer_cards_generation_id_generations"), "generations",
                                    ["generation_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    # Rows of every generation but the active one go: the old schema holds one derivation per workspace.
    for table in DERIVED:
        op.execute(f"DELETE FROM {table} WHERE generation_id NOT IN (SELECT id FROM generations WHERE state = 'active')")
    with op.batch_alter_table("peer_cards", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_peer_cards_generation_id_generations"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("pk_peer_cards"), type_="primary")
        batch_op.create_primary_key(batch_op.f("pk_peer_cards"), ["observer_id", "observed_id"])
        batch_op.drop_column("generation_id")
    with op.batch_alter_table("conclusions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conclusions_generation_id"))
        batch_op.drop_constraint(batch_op.f("fk_conclusions_generation_id_generations"), type_="foreignkey")
        batch_op.drop_column("generation_id")
    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_summaries_generation_id_generations"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_summaries_generation_id_session_id_kind_last_seq"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_summaries_session_id_kind_last_seq"),
                                          ["session_id", "kind", "last_seq"])
        batch_op.drop_column("generation_id")
    op.drop_index("uq_generations_active", table_name="generations", postgresql_where=ACTIVE, sqlite_where=ACTIVE)
    op.drop_table("generations")
