"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:45:46.627335
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from honcho_server.store.types import BigId, Json, UTCDateTime

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('workspaces',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=21), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('metadata', Json, nullable=False),
    sa.Column('configuration', Json, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspaces')),
    sa.UniqueConstraint('name', name=op.f('uq_workspaces_name')),
    sa.UniqueConstraint('uid', name=op.f('uq_workspaces_uid'))
    )
    op.create_table('peers',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=21), nullable=False),
    sa.Column('workspace_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('metadata', Json, nullable=False),
    sa.Column('configuration', Json, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_peers_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peers')),
    sa.UniqueConstraint('uid', name=op.f('uq_peers_uid')),
    sa.UniqueConstraint('workspace_id', 'id', name=op.f('uq_peers_workspace_id_id')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_peers_workspace_id_name'))
    )
    op.create_table('sessions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=21), nullable=False),
    sa.Column('workspace_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('metadata', Json, nullable=False),
    sa.Column('configuration', Json, nullable=False),
    sa.Column('last_seq', BigId, server_default=sa.text('0'), nullable=False),
    sa.Column('message_count', BigId, server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_sessions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('uid', name=op.f('uq_sessions_uid')),
    sa.UniqueConstraint('workspace_id', 'id', name=op.f('uq_sessions_workspace_id_id')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_sessions_workspace_id_name'))
    )
    op.create_table('jobs',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('workspace_id', BigId, nullable=True),
    sa.Column('session_id', BigId, nullable=True),
    sa.Column('work_unit_key', sa.String(length=1100), nullable=False),
    sa.Column('dedupe_key', sa.String(length=1100), nullable=True),
    sa.Column('observed', sa.String(length=512), nullable=True),
    sa.Column('observers', Json, nullable=True),
    sa.Column('payload', Json, nullable=False),
    sa.Column('status', sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('run_after', UTCDateTime(), nullable=False),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('locked_until', UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_jobs_status')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_jobs_session_id_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_jobs_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_kind_status_run_after'), ['kind', 'status', 'run_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_work_unit_key_status'), ['work_unit_key', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_workspace_id_kind_status'), ['workspace_id', 'kind', 'status'], unique=False)
        batch_op.create_index('uq_jobs_dedupe_key_open', ['dedupe_key'], unique=True, postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))

    op.create_table('messages',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=21), nullable=False),
    sa.Column('workspace_id', BigId, nullable=False),
    sa.Column('session_id', BigId, nullable=False),
    sa.Column('peer_id', BigId, nullable=False),
    sa.Column('seq', BigId, nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('metadata', Json, nullable=False),
    sa.Column('internal_metadata', Json, nullable=True),
    sa.Column('token_count', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'peer_id'], ['peers.workspace_id', 'peers.id'], name=op.f('fk_messages_workspace_id_peer_id_peers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'session_id'], ['sessions.workspace_id', 'sessions.id'], name=op.f('fk_messages_workspace_id_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('session_id', 'seq', name=op.f('uq_messages_session_id_seq')),
    sa.UniqueConstraint('uid', name=op.f('uq_messages_uid'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_peer_id'), ['peer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_workspace_id_created_at'), ['workspace_id', 'created_at'], unique=False)

    op.create_table('session_peers',
    sa.Column('workspace_id', BigId, nullable=False),
    sa.Column('session_id', BigId, nullable=False),
    sa.Column('peer_id', BigId, nullable=False),
    sa.Column('observe_me', sa.Boolean(), nullable=True),
    sa.Column('observe_others', sa.Boolean(), nullable=True),
    sa.Column('joined_at', UTCDateTime(), nullable=False),
    sa.Column('left_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id', 'peer_id'], ['peers.workspace_id', 'peers.id'], name=op.f('fk_session_peers_workspace_id_peer_id_peers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'session_id'], ['sessions.workspace_id', 'sessions.id'], name=op.f('fk_session_peers_workspace_id_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'peer_id', name=op.f('pk_session_peers'))
    )
    with op.batch_alter_table('session_peers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_peers_peer_id'), ['peer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('session_peers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_peers_peer_id'))

    op.drop_table('session_peers')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_workspace_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_messages_peer_id'))

    op.drop_table('messages')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_dedupe_key_open', postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))
        batch_op.drop_index(batch_op.f('ix_jobs_workspace_id_kind_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_work_unit_key_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_kind_status_run_after'))
        batch_op.drop_index(batch_op.f('ix_jobs_session_id'))

    op.drop_table('jobs')
    op.drop_table('sessions')
    op.drop_table('peers')
    op.drop_table('workspaces')
