"""Settings: environment (`HONCHO_` prefix, `__` for nesting), then `config.toml`, then defaults.

The reference server's names `DB_CONNECTION_URI`, `AUTH_USE_AUTH` and `AUTH_JWT_SECRET` are accepted too,
with lower priority than their `HONCHO_` equivalents.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LEGACY_DATA_DIR = Path("honcho-data")  # the default before 0.2, relative to the working directory


def default_data_dir() -> Path:
    """Where the embedded database lives unless configured: the user's data directory (XDG), wherever the server
    starts."""
    base = Path(os.environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser()
    base = base if base.is_absolute() else Path("~/.local/share").expanduser()  # XDG: relative values are ignored
    return base / "honcho-server"


def config_file() -> Path:
    """The config.toml read at start-up (HONCHO_CONFIG_FILE, else config.toml in the working directory)."""
    return Path(os.environ.get("HONCHO_CONFIG_FILE", "config.toml"))


def _blank_to_none(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


# Optional text where an empty value (e.g. `HONCHO_LLM__BASE_URL=`) means "not set".
OptionalText = Annotated[str | None, AfterValidator(_blank_to_none)]
# Who may read a page of the server that is not the API (/docs, /metrics): anyone, a key, or nobody (404).
Access = Literal["public", "token", "off"]
LLMProvider = Literal["none", "openai", "anthropic", "gemini", "openai-compatible"]

LEGACY_ENV = {"DB_CONNECTION_URI": ("db", "url"), "AUTH_USE_AUTH": ("auth", "enabled"),
              "AUTH_JWT_SECRET": ("auth", "jwt_secret"), "METRICS_ENABLED": ("server", "metrics_enabled"),
              "WEBHOOK_SECRET": ("webhooks", "legacy_secret"),
              "WEBHOOK_MAX_WORKSPACE_LIMIT": ("webhooks", "max_endpoints")}


class DatabaseSettings(BaseModel):
    url: str = Field(
        default_factory=lambda: f"sqlite:///{default_data_dir() / 'honcho.db'}",
        description="sqlite:///path/to/file.db or postgresql://user:pass@host:5432/db",
    )
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections kept open per process")
    max_overflow: int = Field(default=20, ge=0, description="extra PostgreSQL connections under load")
    echo: bool = Field(default=False, description="log every SQL statement")

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value.strip()).get_backend_name()
        except (ArgumentError, ValueError):  # unparsable, or e.g. a port that is not a number
            backend = None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("not a database URL: use sqlite:///path/to/file.db or "
                             "postgresql://user:password@host:5432/dbname")
        return value.strip()
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="PostgreSQL: give up opening a connection after this (then 503)")


MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash output


class AuthSettings(BaseModel):
    enabled: bool = Field(default=False, description="require JWT bearer tokens on every route")
    jwt_secret: SecretStr | None = Field(
        default=None, description=f"HS256 key for API keys, at least {MIN_SECRET_BYTES} bytes (UTF-8)")

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> AuthSettings:
        if self.enabled and not (self.jwt_secret and self.jwt_secret.get_secret_value()):
            raise ValueError("auth.enabled requires auth.jwt_secret (HONCHO_AUTH__JWT_SECRET)")
        return self

    def weak_secret(self) -> str | None:
        """Why the signing key is too short to serve with; None when it is long enough (or auth is off).

        Checked when a server or worker starts rather than when settings load, so that `serve --insecure` on a
        loopback address can still run with a short test key."""
        if not self.enabled or self.jwt_secret is None:
            return None
        size = len(self.jwt_secret.get_secret_value().encode("utf-8"))
        if size >= MIN_SECRET_BYTES:
            return None
        return (f"auth.jwt_secret (HONCHO_AUTH__JWT_SECRET) is {size} bytes; it must be at least "
                f"{MIN_SECRET_BYTES} bytes, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")


class WebhookSettings(BaseModel):
    max_endpoints: int = Field(default=10, ge=1, description="webhook endpoints per workspace")
    timeout_seconds: float = Field(default=30.0, gt=0, description="per delivery attempt")
    allow_private: bool = Field(
        default=False, description="deliver to loopback, private, link-local and other non-public addresses "
        "(checked after DNS resolution; redirects are never followed)")
    legacy_secret: SecretStr | None = Field(
        default=None, description="also sign with the reference server's X-Honcho-Signature (one server-wide "
        "secret, WEBHOOK_SECRET); every endpoint's own secret signs the Standard Webhooks headers regardless")


class LimitSettings(BaseModel):
    max_file_bytes: int = Field(default=5_242_880, ge=1, description="largest upload accepted")
    max_metadata_bytes: int = Field(
        default=65_536, ge=64,
        description="largest metadata or configuration object (compact JSON, UTF-8) a request may set; 422 above")
    session_observers: int = Field(default=10, ge=0, description="members with observe_others per session")
    context_max_tokens: int = Field(default=100_000, ge=1, le=250_000, description="session context cap")
    custom_instructions_tokens: int = Field(default=2000, ge=0, description="custom_instructions size cap")
    embedding_max_input_tokens: int = Field(default=8192, ge=1, description="longest text sent to embed")


class ReasoningDefaults(BaseModel):
    """Workspace-independent defaults of the configuration cascade (spec 3.1)."""

    reasoning_enabled: bool = True
    peer_card_enabled: bool = True
    summary_enabled: bool = True
    messages_per_short_summary: int = Field(default=20, ge=10)
    messages_per_long_summary: int = Field(default=60, ge=20)
    dream_enabled: bool = True


class WorkerSettings(BaseModel):
    poll_interval_seconds: float = Field(default=1.0, gt=0, description="idle wait between queue polls")
    concurrency: int = Field(default=4, ge=1, description="jobs processed at once per worker process")
    rederive_concurrency: int = Field(
        default=1, ge=1, description="re-derivation jobs (building a new generation of memory) run at once per worker "
        "process, and only with room left by live work")
    lease_seconds: float = Field(
        default=15.0, gt=0,
        description="how long a claimed job is owned without a heartbeat (beats every third of it): a crashed "
        "worker's jobs are taken over after at most this long")
    max_attempts: int = Field(default=5, ge=1, description="tries before a job is parked as failed")
    background_share: float = Field(
        default=0.5, gt=0, le=1,
        description="share of the time the worker inside `serve` may spend on jobs while the API is serving: "
        "after a round of jobs during requests it rests in proportion (0.5: as long as the round took); 1 never rests",
    )
    done_retention_seconds: float = Field(
        default=3600.0, gt=0,
        description="finished jobs are deleted after this long (queue status counts them as completed until then)")


class DeriverSettings(BaseModel):
    """How messages are batched into deriver calls and how duplicates are recognised."""

    batch_tokens: int = Field(
        default=1024, ge=0,
        description="a peer's queued message tokens in one session that make its batch run at once; smaller "
        "batches wait up to flush_seconds for more",
    )
    max_input_tokens: int = Field(
        default=4096, ge=256, le=100_000,
        description="conversation tokens (context included) per deriver call; a longer backlog takes several calls",
    )
    quiet_seconds: float = Field(
        default=120.0, ge=0,
        description="a smaller batch is derived once its sender has been quiet this long in the session")
    flush_seconds: float = Field(
        default=1800.0, ge=0,
        description="longest a queued message waits for its batch, however lively the session; 0 never waits")
    dedup_similarity: float = Field(
        default=0.9, ge=0, le=1,
        description="cosine similarity from which a new conclusion that also shares its words and numbers with "
        "an existing one reinforces it instead of being stored again",
    )


class DreamSettings(BaseModel):
    """When consolidation ("dreams") runs on its own; `POST .../schedule_dream` runs one at once."""

    threshold: int = Field(default=50, ge=1, description="new explicit conclusions in a collection that call for one")
    idle_minutes: float = Field(
        default=60.0, ge=0, description="how long the observed peer must have been quiet (each batch pushes it back)")
    min_hours_between: float = Field(default=8.0, ge=0, description="least time between two dreams of a collection")
    max_conclusions: int = Field(
        default=200, ge=10, le=2000, description="newest current conclusions one dream reads")


class DialecticLevel(BaseModel):
    """What one reasoning level of the chat may spend (its model: `llm.dialectic_<level>`)."""

    tool_rounds: int = Field(ge=0, le=50, description="model turns that may call retrieval tools before the answer")
    max_output_tokens: int = Field(gt=0, description="cap of each model turn's output (the answer included)")
    prefetch: int = Field(ge=0, le=100, description="conclusions closest to the question put in the prompt")


class DialecticSettings(BaseModel):
    """The chat agent (spec 11): per-level budgets in one table, and the prompt's bounds."""

    minimal: DialecticLevel = DialecticLevel(tool_rounds=1, max_output_tokens=300, prefetch=10)
    low: DialecticLevel = DialecticLevel(tool_rounds=3, max_output_tokens=1000, prefetch=20)
    medium: DialecticLevel = DialecticLevel(tool_rounds=5, max_output_tokens=2000, prefetch=25)
    high: DialecticLevel = DialecticLevel(tool_rounds=8, max_output_tokens=4000, prefetch=30)
    max: DialecticLevel = DialecticLevel(tool_rounds=12, max_output_tokens=8000, prefetch=40)
    session_history_tokens: int = Field(
        default=4096, ge=0, description="recent messages of the chat's session put in the prompt (0: none)")
    context_tokens: int = Field(
        default=12_000, ge=500,
        description="most tokens of retrieved memory (cards, prefetched conclusions, session history) in the "
        "prompt; the question itself is never cut")
    tool_result_tokens: int = Field(default=3000, ge=200, description="longest result one tool call returns")

    def level(self, name: str) -> DialecticLevel:
        return getattr(self, name)


EMBEDDING_PROVIDERS = ("local", "openai", "gemini", "hash")


class EmbeddingSettings(BaseModel):
    provider: str = Field(
        default="local",
        description="local (bundled model, offline), openai (any OpenAI-compatible /v1/embeddings: OpenAI, "
        "Ollama, vLLM, LM Studio, TEI, OpenRouter), gemini, or hash (deterministic, for tests)",
    )
    model: OptionalText = Field(
        default=None,
        description="local: wordllama (default) or minilm; openai: e.g. text-embedding-3-small (default), "
        "nomic-embed-text; gemini: gemini-embedding-001 (default)",
    )
    base_url: OptionalText = Field(
        default=None,
        description="API root; openai default https://api.openai.com/v1 (Ollama: http://localhost:11434/v1), "
        "gemini default https://generativelanguage.googleapis.com/v1beta",
    )
    api_key: SecretStr | None = Field(default=None, description="bearer key (openai) or x-goog-api-key (gemini)")
    dimensions: int | None = Field(
        default=None, gt=0,
        description="vector size; sent to remote providers when set (Matryoshka truncation) and always "
        "checked against what they return; required for remote models we do not know",
    )
    send_dimensions: bool = Field(
        default=True,
        description="openai only: set false when the server rejects a `dimensions` field (e.g. a vLLM model "
        "without Matryoshka support) but you still declare the size with `dimensions`",
    )
    batch_size: int = Field(default=64, ge=1, description="most texts per remote request (Gemini caps at 100)")
    max_batch_chars: int = Field(default=200_000, ge=1, description="most characters of text per remote request")
    max_concurrency: int = Field(default=4, ge=1, description="remote requests in flight at once")
    timeout_seconds: float = Field(default=30.0, gt=0, description="per remote request")
    max_retries: int = Field(default=5, ge=0, description="retries on 429/5xx/timeouts before giving up")
    query_prefix: str = Field(default="", description="prepended to search queries (e.g. 'search_query: ')")
    document_prefix: str = Field(default="", description="prepended to stored texts (e.g. 'search_document: ')")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in EMBEDDING_PROVIDERS:
            raise ValueError(f"unknown embedding provider {value!r}; choose one of {', '.join(EMBEDDING_PROVIDERS)}")
        return value



# The provider's usual environment variable for its key, read when HONCHO_LLM__API_KEY is unset.
PROVIDER_KEY_ENV = {"openai": ("OPENAI_API_KEY",), "anthropic": ("ANTHROPIC_API_KEY",),
                    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
# Providers whose SDK is an extra of honcho-server (openai's always ships): the module it provides, the extra.
PROVIDER_SDK = {"anthropic": ("anthropic", "anthropic"), "gemini": ("google.genai", "gemini")}


def missing_sdk(provider: str) -> str | None:
    """The pip command that installs `provider`'s SDK when it is not installed, else None."""
    module, extra = PROVIDER_SDK.get(provider, (None, None))
    if module is None:
        return None
    try:
        found = importlib.util.find_spec(module) is not None  # looks without importing the SDK
    except ModuleNotFoundError:  # the parent package (google) is missing too
        found = False
    return None if found else f"pip install 'honcho-server[{extra}]'"


LLM_TASKS = ("deriver", "summary", "dialectic_minimal", "dialectic_low", "dialectic_medium", "dialectic_high",
             "dialectic_max", "dream")


class LLMTaskSettings(BaseModel):
    """Overrides for one reasoning task; anything left unset comes from the `llm` section."""

    provider: LLMProvider | None = None
    model: OptionalText = None
    base_url: OptionalText = None
    api_key: SecretStr | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)



class LLMSettings(BaseModel):
    provider: LLMProvider = Field(
        default="none",
        description="none (reasoning off), openai, anthropic, gemini, or openai-compatible (any /v1/chat/completions "
        "server: Ollama, vLLM, LM Studio, OpenRouter, Groq; needs base_url)",
    )
    model: OptionalText = Field(default=None, description="model name; required unless the provider is none")
    base_url: OptionalText = Field(default=None, description="API root (openai-compatible: e.g. http://localhost:11434/v1)")
    api_key: SecretStr | None = Field(default=None, description="the provider's key (optional for local servers)")
    output_mode: Literal["auto", "tool", "native", "prompted"] = Field(
        default="auto",
        description="how structured answers are asked for: tool (function calling), native (JSON schema), prompted "
        "(schema in the prompt, parsed and validated); auto = tool for openai/anthropic/gemini, prompted for "
        "openai-compatible servers (local models vary in tool and schema support)",
    )
    timeout_seconds: float = Field(default=120.0, gt=0, description="per provider request")
    max_retries: int = Field(default=4, ge=0, description="retries on 429, 5xx, timeouts and connection errors")
    output_retries: int = Field(default=2, ge=0, description="re-asks when the answer does not match its schema")
    max_output_tokens: int = Field(default=4096, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    input_price_per_mtok: float | None = Field(
        default=None, ge=0, description="USD per million input tokens, when the built-in price list does not know "
        "the model (e.g. 0 for a local one)")
    output_price_per_mtok: float | None = Field(default=None, ge=0)
    deriver: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    summary: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dialectic_minimal: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dialectic_low: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dialectic_medium: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dialectic_high: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dialectic_max: LLMTaskSettings = Field(default_factory=LLMTaskSettings)
    dream: LLMTaskSettings = Field(default_factory=LLMTaskSettings)

    @property
    def enabled(self) -> bool:
        """Reasoning runs: a provider is configured completely (see `problem`)."""
        return self.provider != "none" and self.problem is None

    def api_key_for(self, task: str) -> str | None:
        """The task's key, else the section's (same provider), else the provider's usual environment variable
        (never for an openai-compatible server: a hosted provider's key must not go to whatever server that is)."""
        own = getattr(self, task)
        provider = own.provider or self.provider
        # The section's key belongs to the section's provider: a task moved to another provider needs its own.
        key = own.api_key or (self.api_key if provider == self.provider else None)
        if key is not None and key.get_secret_value():
            return key.get_secret_value()
        return next((os.environ[n] for n in PROVIDER_KEY_ENV.get(provider, ()) if os.environ.get(n)), None)

    def base_url_for(self, task: str) -> str | None:
        """The task's API root, else the section's when the task keeps the section's provider (a task moved to
        another provider does not inherit a root meant for the first one)."""
        own = getattr(self, task)
        provider = own.provider or self.provider
        return own.base_url or (self.base_url if provider == self.provider else None)

    def task_problem(self, task: str) -> str | None:
        """What keeps `task` from running, as the setting to fix; None when it can run."""
        own = getattr(self, task)
        provider = own.provider or self.provider
        prefix = f"HONCHO_LLM__{task.upper()}__"
        if provider == "none":
            return ("no LLM is configured: set HONCHO_LLM__PROVIDER (openai, anthropic, gemini or openai-compatible) "
                    "and HONCHO_LLM__MODEL")
        if (install := missing_sdk(provider)) is not None:
            return f"the {provider} provider's SDK is not installed: {install}"
        if not (own.model or self.model):
            return (f"HONCHO_LLM__PROVIDER is {provider} but no model is set: set HONCHO_LLM__MODEL (or "
                    f"{prefix}MODEL)")
        base_url = self.base_url_for(task)
        if provider == "openai-compatible" and not base_url:
            return ("an openai-compatible provider needs HONCHO_LLM__BASE_URL (e.g. http://localhost:11434/v1 for "
                    "Ollama)")
        if provider in PROVIDER_KEY_ENV and not base_url and self.api_key_for(task) is None:
            names = " or ".join(PROVIDER_KEY_ENV[provider])
            return f"the {provider} provider needs a key: set HONCHO_LLM__API_KEY (or {names})"
        return None

    @property
    def problem(self) -> str | None:
        """The first reason some task cannot run (None: all can); `provider = none` is no problem, just off."""
        if self.provider == "none":
            return None
        for task in LLM_TASKS:
            if (found := self.task_problem(task)) is not None:
                overridden = getattr(self, task).model_fields_set
                return f"{task}: {found}" if overridden else found
        return None


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost", "http://127.0.0.1:8000"],
        description="allowed browser origins: a JSON list or comma-separated")
    metrics: Access | None = Field(
        default=None,
        description="who may read /metrics: public, token (an admin key, when auth is on) or off (404); unset: "
        "public when metrics_enabled, else off")
    metrics_enabled: bool = Field(
        default=False, description="the older switch (METRICS_ENABLED): true with `metrics` unset means public")
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"  # uvicorn's levels
    log_format: Literal["text", "json"] = Field(
        default="text", description="the server's and uvicorn's log lines: text, or json (one object per line)")
    access_log: bool = Field(
        default=False, description="log one line per request: method, path, status, duration in ms, client")
    docs: Access | None = Field(
        default=None,
        description="who may read /openapi.json, /docs and /redoc: public, token (any valid API key, when auth is "
        "on) or off (404); unset: public when `host` is a loopback address, token otherwise")
    # Slow clients (api/deadlines.py): none can hold a connection open by sending little or nothing.
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request's line and headers must arrive within this (else 408, closed)")
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request body must arrive within this, plus one second per "
        "body_min_rate bytes received (else 408, closed)")
    body_min_rate: int = Field(
        default=8192, ge=0, description="bytes per second a body must keep up after body_timeout_seconds "
        "(0: the whole body within body_timeout_seconds)")
    keep_alive_seconds: float = Field(
        default=5.0, gt=0, description="an idle kept-alive connection is closed after this")
    max_connections: int = Field(
        default=1000, ge=1, description="connections (and requests in progress) per process; past it, 503")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_list(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ReadySettings(BaseModel):
    """What `/ready` calls ready (docs/health-and-faults.md)."""

    database_timeout_seconds: float = Field(
        default=2.0, gt=0, description="the database must answer a trivial query within this")
    require_worker: bool = Field(
        default=True, description="a worker (in `serve` or standalone) must be alive for the server to be ready")
    worker_beat_max_age_seconds: float = Field(
        default=30.0, ge=10, description="a worker whose last heartbeat is older counts as gone (beats every 5 s)")
    queue_lag_max_seconds: float = Field(
        default=300.0, gt=0, description="not ready when a due job that a live worker runs has waited longer")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HONCHO_", env_nested_delimiter="__", extra="ignore",
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    defaults: ReasoningDefaults = Field(default_factory=ReasoningDefaults)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    deriver: DeriverSettings = Field(default_factory=DeriverSettings)
    dream: DreamSettings = Field(default_factory=DreamSettings)
    dialectic: DialecticSettings = Field(default_factory=DialecticSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    ready: ReadySettings = Field(default_factory=ReadySettings)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, LegacyEnvSource(settings_cls),
                TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


class LegacyEnvSource(PydanticBaseSettingsSource):
    """Reads the reference server's environment names."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        for name, (section, key) in LEGACY_ENV.items():
            if name in os.environ:
                found.setdefault(section, {})[key] = os.environ[name]
        return found


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and files; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)
