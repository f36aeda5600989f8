"""wake workers when jobs are queued

PostgreSQL: a statement-level trigger on `jobs` sends NOTIFY honcho_jobs, delivered when the inserting
transaction commits, so separate worker processes start at once instead of at their next poll, at no extra
round trip for the writer. SQLite has no notifications: its workers poll (and the in-process worker is woken
directly).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION honcho_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('honcho_jobs', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION honcho_notify_jobs()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS jobs_notify ON jobs")
    op.execute("DROP FUNCTION IF EXISTS honcho_notify_jobs()")
