"""record which embedding model the stored vectors come from

The vector table (`message_embeddings`) is made by code at start-up, sized to the configured embedder; this
row says which model and dimension filled it, so starting with another one is caught before it mixes
incompatible vectors.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embedding_space",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.String(length=512), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_embedding_space_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_space")),
    )


def downgrade() -> None:
    op.drop_table("embedding_space")
