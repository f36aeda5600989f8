"""generation usage: each LLM call names the generation it derived for; a failed generation says why; names are
unique per workspace

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMED = sa.text("name IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generation_id", BigId, nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_llm_calls_generation_id_generations"), "generations",
                                    ["generation_id"], ["id"], ondelete="SET NULL")
        batch_op.create_index(batch_op.f("ix_llm_calls_generation_id"), ["generation_id"], unique=False)
    # Not in batch mode: on SQLite that copies the table, and dropping the old copy would cascade into every row
    # that references a generation (foreign keys are on).
    op.add_column("generations", sa.Column("error", sa.Text(), nullable=True))
    op.create_index("uq_generations_name", "generations", ["workspace_id", "name"], unique=True,
                    postgresql_where=NAMED, sqlite_where=NAMED)


def downgrade() -> None:
    op.drop_index("uq_generations_name", table_name="generations", postgresql_where=NAMED, sqlite_where=NAMED)
    op.drop_column("generations", "error")  # SQLite drops a plain column in place (3.35+)
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_calls_generation_id"))
        batch_op.drop_constraint(batch_op.f("fk_llm_calls_generation_id_generations"), type_="foreignkey")
        batch_op.drop_column("generation_id")
