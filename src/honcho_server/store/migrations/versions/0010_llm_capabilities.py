"""what each LLM endpoint + model was seen to support (tools, json_schema, streaming...), shared by all processes

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import Json, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_capabilities",
        sa.Column("endpoint", sa.String(length=700), primary_key=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=400), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("capabilities", Json, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("llm_capabilities")
