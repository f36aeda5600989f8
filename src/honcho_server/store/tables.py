"""The schema as SQLAlchemy Core tables: one MetaData shared by repositories and migrations.

Every row carries its workspace, and child tables reference parents through composite keys that include
`workspace_id`, so a row can never point into another tenant.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from honcho_server.store.types import BigId, Json, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME_LEN = 512
UID_LEN = 21


def _uid() -> Column[str]:
    return Column("uid", String(UID_LEN), nullable=False, unique=True)


def _created_at() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


workspaces = Table(
    "workspaces", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("name", String(NAME_LEN), nullable=False, unique=True),
    Column("metadata", Json, nullable=False),
    Column("configuration", Json, nullable=False),
    _created_at(),
)

peers = Table(
    "peers", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column("metadata", Json, nullable=False),
    Column("configuration", Json, nullable=False),
    _created_at(),
    UniqueConstraint("workspace_id", "name"),
    UniqueConstraint("workspace_id", "id"),
)

sessions = Table(
    "sessions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("metadata", Json, nullable=False),
    Column("configuration", Json, nullable=False),
    # Highest message seq handed out; bumped with UPDATE ... RETURNING, which also serialises appends.
    Column("last_seq", BigId, nullable=False, server_default=text("0")),
    # Kept with every append so listing a session never counts its rows.
    Column("message_count", BigId, nullable=False, server_default=text("0")),
    _created_at(),
    UniqueConstraint("workspace_id", "name"),
    UniqueConstraint("workspace_id", "id"),
)

session_peers = Table(
    "session_peers", metadata,
    Column("workspace_id", BigId, nullable=False),
    Column("session_id", BigId, primary_key=True),
    Column("peer_id", BigId, primary_key=True),
    Column("observe_me", Boolean, nullable=True),
    Column("observe_others", Boolean, nullable=True),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("left_at", UTCDateTime(), nullable=True),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    Index(None, "peer_id"),
)

messages = Table(
    "messages", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, nullable=False),
    Column("session_id", BigId, nullable=False),
    Column("peer_id", BigId, nullable=False),
    Column("seq", BigId, nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("internal_metadata", Json, nullable=True),
    Column("token_count", Integer, nullable=False),
    _created_at(),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    UniqueConstraint("session_id", "seq"),
    Index(None, "peer_id"),
    Index(None, "workspace_id", "created_at"),
)

JOB_STATUSES = ("pending", "running", "done", "failed")

jobs = Table(
    "jobs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True),
    Column("session_id", BigId, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
    # Jobs sharing a work unit run one at a time, in id order.
    Column("work_unit_key", String(1100), nullable=False),
    Column("dedupe_key", String(1100), nullable=True),
    # Queued work of one unit that is merged into a single pending row (queue/jobs.py `enqueue`).
    Column("merge_key", String(1100), nullable=True),
    Column("observed", String(NAME_LEN), nullable=True),
    Column("observers", Json, nullable=True),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("run_after", UTCDateTime(), nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    _created_at(),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
    Index(None, "kind", "status", "run_after"),  # claims look up claimable jobs of the kinds a worker runs
    Index(None, "work_unit_key", "status"),
    Index(None, "workspace_id", "kind", "status"),
    Index(None, "session_id"),
    Index("uq_jobs_dedupe_key_open", "dedupe_key", unique=True,
          postgresql_where=text("status IN ('pending', 'running')"),
          sqlite_where=text("status IN ('pending', 'running')")),
    Index("uq_jobs_merge_key_pending", "merge_key", unique=True,
          postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    Index(None, "status", "updated_at"),  # pruning finds done jobs past their retention
    Index("ix_jobs_dedupe_key_done", "dedupe_key",  # the latest done job of a key is kept (dream cool-down)
          postgresql_where=text("status = 'done'"), sqlite_where=text("status = 'done'")),
)

# The embedding model whose vectors `message_embeddings` holds (one row, id 1). The vector table itself is
# created by code (store/dialect), because its dimension is runtime configuration.
embedding_space = Table(
    "embedding_space", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("model_id", String(512), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)


# What each LLM endpoint + model was seen to support (llm/capabilities.py): probed once, corrected by failures,
# shared by every process. `endpoint` is provider|base_url|model.
llm_capabilities = Table(
    "llm_capabilities", metadata,
    Column("endpoint", String(700), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("base_url", String(400), nullable=True),
    Column("model", String(256), nullable=False),
    Column("capabilities", Json, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per LLM run (llm/client.py): token and cost accounting, per workspace when the work belongs to one.
llm_calls = Table(
    "llm_calls", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True),
    Column("task", String(32), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", String(256), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("cost_usd", Float, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    _created_at(),
    # The generation the call derived for (None: chat, probes, or calls made before generations); a deleted
    # generation's calls stay in the workspace's usage.
    Column("generation_id", BigId, ForeignKey("generations.id", ondelete="SET NULL"), nullable=True),
    Index(None, "workspace_id", "created_at"),
    Index(None, "generation_id"),
)


GENERATION_STATES = ("building", "ready", "active", "retired", "failed")

# One derivation of a workspace's memory (docs/generations.md): every derived row (summaries, conclusions, peer
# cards) belongs to one; exactly one per workspace is active, the one reads serve.
generations = Table(
    "generations", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, ... per workspace; the public id is g<number>
    Column("name", String(NAME_LEN), nullable=True),
    Column("state", String(16), nullable=False),
    Column("recipe", Json, nullable=False),  # models per task and the settings that shape derivation (no keys)
    Column("fingerprint", String(64), nullable=False),  # sha256 of the recipe and the prompts
    Column("scope", Json, nullable=False),
    Column("started_by", String(256), nullable=False),
    Column("progress", Json, nullable=False),
    Column("estimate", Json, nullable=True),
    Column("max_cost_usd", Float, nullable=True),
    Column("previous_id", BigId, nullable=True),  # the generation active before this one was activated
    _created_at(),
    Column("ready_at", UTCDateTime(), nullable=True),
    Column("activated_at", UTCDateTime(), nullable=True),
    Column("retired_at", UTCDateTime(), nullable=True),
    Column("error", Text, nullable=True),  # why a failed generation stopped (e.g. its cost cap was reached)
    CheckConstraint("state IN ('building', 'ready', 'active', 'retired', 'failed')", name="state"),
    UniqueConstraint("workspace_id", "number"),
    Index("uq_generations_active", "workspace_id", unique=True,
          postgresql_where=text("state = 'active'"), sqlite_where=text("state = 'active'")),
    Index("uq_generations_name", "workspace_id", "name", unique=True,
          postgresql_where=text("name IS NOT NULL"), sqlite_where=text("name IS NOT NULL")),
)


def _generation() -> Column[int]:
    return Column("generation_id", BigId, ForeignKey("generations.id", ondelete="CASCADE"), nullable=False)


# Rolling session summaries (reasoning/summaries.py): each covers the whole session up to `last_seq`, folding in
# the previous one of its kind; older rows are kept (history, and a fallback if a newer one is ever removed).
summaries = Table(
    "summaries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace_id", BigId, nullable=False),
    Column("session_id", BigId, nullable=False),
    _generation(),
    Column("kind", String(8), nullable=False),
    Column("content", Text, nullable=False),
    Column("last_seq", BigId, nullable=False),  # the last message covered (by its session seq)
    Column("message_uid", String(21), nullable=False),  # ... and by its public id
    Column("token_count", Integer, nullable=False),
    _created_at(),
    CheckConstraint("kind IN ('short', 'long')", name="kind"),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    UniqueConstraint("generation_id", "session_id", "kind", "last_seq"),
)


CONCLUSION_LEVELS = ("explicit", "deductive", "inductive", "contradiction")

# What one peer (observer) has concluded about another (observed). Explicit conclusions come from the deriver or
# the API and carry the session and the messages they were read from; derived levels carry their premises.
conclusions = Table(
    "conclusions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, nullable=False),
    _generation(),
    Column("observer_id", BigId, nullable=False),
    Column("observed_id", BigId, nullable=False),
    Column("session_id", BigId, nullable=True),
    Column("level", String(16), nullable=False),
    Column("content", Text, nullable=False),
    # sha256 of the normalised content (lower case, single spaces): exact dedup without indexing long text.
    Column("fingerprint", String(64), nullable=False),
    Column("times_derived", Integer, nullable=False, server_default=text("1")),
    Column("message_ids", Json, nullable=True),  # public ids of the messages it was read from
    Column("source_ids", Json, nullable=True),  # public ids of premise conclusions (derived levels)
    Column("observed_at", UTCDateTime(), nullable=False),  # when it was learned (the source message's time)
    Column("about_at", UTCDateTime(), nullable=True),  # when what it says happened or holds, when stated
    Column("metadata", Json, nullable=False),  # internal metadata (the API's `metadata` filter reads it)
    Column("embedding", LargeBinary, nullable=True),  # float32 unit vector of the configured embedder
    # Set when consolidation replaced it with a newer or merged conclusion: kept as history, out of current reads.
    Column("superseded_by", String(UID_LEN), nullable=True),
    Column("superseded_at", UTCDateTime(), nullable=True),
    _created_at(),
    CheckConstraint("level IN ('explicit', 'deductive', 'inductive', 'contradiction')", name="level"),
    ForeignKeyConstraint(["workspace_id", "observer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "observed_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    Index(None, "observer_id", "observed_id", "created_at"),
    Index(None, "observer_id", "observed_id", "fingerprint"),
    Index(None, "workspace_id", "created_at"),
    Index(None, "session_id"),
    Index(None, "generation_id"),
)

# A short list of stable facts one peer keeps about another (its own card when observer = observed).
peer_cards = Table(
    "peer_cards", metadata,
    Column("workspace_id", BigId, nullable=False),
    Column("generation_id", BigId, ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True),
    Column("observer_id", BigId, primary_key=True),
    Column("observed_id", BigId, primary_key=True),
    Column("entries", Json, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    ForeignKeyConstraint(["workspace_id", "observer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "observed_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    Index(None, "observed_id"),
)

# A scope: a named set of sessions acting as a recall boundary (spec 10.A). Its memory lives under a hidden peer
# `scope.<name>` (`peer_id`), the observer of its conclusions and cards; this row is what marks that peer a scope.
scopes = Table(
    "scopes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("workspace_id", BigId, nullable=False),
    Column("peer_id", BigId, nullable=False, unique=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("metadata", Json, nullable=False),
    _created_at(),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

SCOPE_BACKFILL_STATES = ("pending", "completed", "failed")

# Which sessions a scope holds (active while `left_at` is null), and the backfill of each session's earlier
# conclusions into the scope (spec 10.7): null when none was queued (or after the session left).
scope_sessions = Table(
    "scope_sessions", metadata,
    Column("workspace_id", BigId, nullable=False),
    Column("scope_id", BigId, ForeignKey("scopes.id", ondelete="CASCADE"), primary_key=True),
    Column("session_id", BigId, primary_key=True),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("left_at", UTCDateTime(), nullable=True),
    Column("backfill_state", String(16), nullable=True),
    Column("backfill_updated_at", UTCDateTime(), nullable=True),
    Column("docs_copied", Integer, nullable=True),
    CheckConstraint("backfill_state IN ('pending', 'completed', 'failed')", name="backfill_state"),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    Index(None, "session_id"),
)


# Webhooks (services/webhooks.py): a workspace's endpoints, each with its own signing secret, and every event
# delivered to them (the delivery log; each delivery is also a job, retried and parked like any other).
webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("secret", String(128), nullable=False),
    _created_at(),
    UniqueConstraint("workspace_id", "url"),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),  # the event's `webhook-id`: the same on every retry, so receivers can deduplicate
    Column("endpoint_id", BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),  # exactly what is sent and signed
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    _created_at(),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "endpoint_id", "id"),
)


# A heartbeat per running worker process (queue/workers.py), read by /ready: which kinds it runs and when it last
# looked at the queue. Rows of workers gone for long are pruned.
worker_beats = Table(
    "worker_beats", metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("kinds", Json, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("beat_at", UTCDateTime(), nullable=False),
    Index(None, "beat_at"),
)


# ---- Honcho's first API, v1 (issue 17, docs/v1-api.md): its own data on the same memory ---------------------------

# A v1 app is a workspace; this row exists only when it has a v1 name that is not its id (an alias: a name v3 ids
# cannot be) or its assistant peer (the author of its `is_user=false` messages).
v1_apps = Table(
    "v1_apps", metadata,
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(NAME_LEN), nullable=True),
    Column("assistant_peer_id", BigId, ForeignKey("peers.id", ondelete="SET NULL"), nullable=True),
    Index("uq_v1_apps_name", "name", unique=True, postgresql_where=text("name IS NOT NULL"),
          sqlite_where=text("name IS NOT NULL")),
)

# A v1 user is a peer; this row exists only when its v1 name is an alias (not its id).
v1_users = Table(
    "v1_users", metadata,
    Column("peer_id", BigId, primary_key=True),
    Column("workspace_id", BigId, nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

# Intermediate reasoning or logs an app keeps about a user, optionally tied to a session and a message.
v1_metamessages = Table(
    "v1_metamessages", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, nullable=False),
    Column("peer_id", BigId, nullable=False),
    Column("session_id", BigId, nullable=True),
    Column("message_id", BigId, ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("metamessage_type", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", Json, nullable=False),
    _created_at(),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "session_id"], ["sessions.workspace_id", "sessions.id"],
                         ondelete="CASCADE"),
    Index(None, "peer_id", "created_at"),
    Index(None, "session_id"),
    Index(None, "message_id"),
)

# A user's named collections of embedded documents: the app's own RAG store (the reserved collection `honcho` is
# not stored here: it is the user's derived conclusions).
v1_collections = Table(
    "v1_collections", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, nullable=False),
    Column("peer_id", BigId, nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column("metadata", Json, nullable=False),
    _created_at(),
    ForeignKeyConstraint(["workspace_id", "peer_id"], ["peers.workspace_id", "peers.id"], ondelete="CASCADE"),
    UniqueConstraint("peer_id", "name"),
)

v1_documents = Table(
    "v1_documents", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _uid(),
    Column("workspace_id", BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("collection_id", BigId, ForeignKey("v1_collections.id", ondelete="CASCADE"), nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("embedding", LargeBinary, nullable=True),  # float32 unit vector of the configured embedder
    _created_at(),
    Index(None, "collection_id", "created_at"),
)
