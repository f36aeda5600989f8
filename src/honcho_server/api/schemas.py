"""Wire models: request bodies (validated strictly) and responses (exactly the spec's shapes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypedDict, TypeVar

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from honcho_server.domain import models
from honcho_server.domain.configuration import (
    MessageConfiguration,
    PeerConfiguration,
    ScopeConfiguration,
    SessionPeerConfig,
)
from honcho_server.domain.documents import DEFAULT_MAX_CHARS
from honcho_server.domain.ids import NAME_MAX, NAME_PATTERN
from honcho_server.domain.metadata import TOO_LARGE, TooLarge, check_metadata, check_size, strip_nul

T = TypeVar("T")
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]


def _bounded(what: str) -> BeforeValidator:
    """The size bound (limits.max_metadata_bytes) of an object as received, checked before anything else."""

    def check(value: Any) -> Any:
        try:
            return check_size(value, what)
        except TooLarge as exc:
            raise PydanticCustomError(TOO_LARGE, TooLarge.template, exc.context) from None

    return BeforeValidator(check)


Metadata = Annotated[dict[str, Any], _bounded("metadata"), AfterValidator(check_metadata)]
ScopeConfig = Annotated[ScopeConfiguration, _bounded("configuration")]
PeerConfig = Annotated[PeerConfiguration, _bounded("configuration")]
MessageConfig = Annotated[MessageConfiguration, _bounded("configuration")]
SessionPeerConfigIn = Annotated[SessionPeerConfig, _bounded("session peer configuration")]
Text = Annotated[str, AfterValidator(strip_nul)]


def as_utc(moment: datetime) -> datetime:
    """Aware UTC (a naive time is UTC already, spec 1.3); ValueError when there is no UTC equivalent."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-14:00 is in year 10000 in UTC
        raise ValueError("datetime is out of range once converted to UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _Body(BaseModel):
    # Unknown fields are ignored, as every reference request model does (the SDK relies on it).
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ListBody(_Body):
    filters: dict[str, Any] | None = None


class MessageSearch(_Body):
    query: Text
    filters: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=100)


class WorkspaceMessageSearch(MessageSearch):
    scope: str | None = None


class PeerListBody(ListBody):
    kind: Literal["scope", "all"] | None = None


class WorkspaceCreate(_Body):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata = Field(default_factory=dict)
    configuration: ScopeConfig | None = None


class WorkspaceUpdate(_Body):
    metadata: Metadata | None = None
    configuration: ScopeConfig | None = None


class PeerCreate(_Body):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata | None = None
    configuration: PeerConfig | None = None


class PeerUpdate(_Body):
    metadata: Metadata | None = None
    configuration: PeerConfig | None = None


class SessionCreate(_Body):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata | None = None
    peers: dict[str, SessionPeerConfigIn] | None = Field(
        default=None, validation_alias=AliasChoices("peers", "peer_names")
    )
    configuration: ScopeConfig | None = None
    scopes: list[Name] | None = Field(default=None, max_length=100)


class SessionUpdate(_Body):
    metadata: Metadata | None = None
    configuration: ScopeConfig | None = None


class MessageCreate(_Body):
    content: Annotated[str, StringConstraints(max_length=DEFAULT_MAX_CHARS), AfterValidator(strip_nul)]
    peer_id: str = Field(min_length=1, validation_alias=AliasChoices("peer_id", "peer_name"))
    metadata: Metadata | None = None
    configuration: MessageConfig | None = None
    created_at: UtcDatetime | None = None


class MessageBatch(_Body):
    messages: list[MessageCreate] = Field(min_length=1, max_length=100)


class MessageUpdate(_Body):
    metadata: Metadata | None = None


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("content must not be empty")
    return value


class ConclusionCreate(_Body):
    content: Annotated[str, StringConstraints(min_length=1, max_length=65535), AfterValidator(strip_nul),
                       AfterValidator(_not_blank)]
    observer_id: str = Field(min_length=1)
    observed_id: str = Field(min_length=1)
    session_id: str | None = None


class ConclusionBatch(_Body):
    conclusions: list[ConclusionCreate] = Field(
        min_length=1, max_length=100, validation_alias=AliasChoices("conclusions", "observations"))


class ConclusionQueryBody(_Body):
    query: Text
    top_k: int = Field(default=10, ge=1, le=100)
    distance: float | None = Field(default=None, ge=0.0, le=1.0)
    filters: dict[str, Any] | None = None


class RepresentationBody(_Body):
    session_id: str | None = None
    filters: dict[str, Any] | None = None
    scope: str | list[str] | None = None
    target: str | None = None
    search_query: Text | None = None
    search_top_k: int | None = Field(default=None, ge=1, le=100)
    search_max_distance: float | None = Field(default=None, ge=0.0, le=1.0)
    include_most_frequent: bool | None = None
    # Explicit null means the server's maximum (spec 6.6).
    max_conclusions: int | None = Field(default=25, ge=1, le=100)


class PeerCardBody(_Body):
    peer_card: list[Text]


# ---- responses -------------------------------------------------------------------------------


class WorkspaceOut(BaseModel):
    id: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    uid: str


class PeerOut(BaseModel):
    id: str
    workspace_id: str
    created_at: datetime
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    uid: str


class SessionOut(BaseModel):
    id: str
    is_active: bool
    workspace_id: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    uid: str


class MessageOut(BaseModel):
    id: str
    content: str
    peer_id: str
    session_id: str
    metadata: dict[str, Any]
    created_at: datetime
    workspace_id: str
    token_count: int


class ConclusionOut(BaseModel):
    id: str
    content: str
    observer_id: str
    observed_id: str
    session_id: str | None
    level: Literal["explicit", "deductive", "inductive", "contradiction"]
    created_at: datetime
    source_ids: list[str] | None
    times_derived: int


class RepresentationOut(BaseModel):
    representation: str


class PeerCardOut(BaseModel):
    peer_card: list[str] | None


class PeerContextOut(BaseModel):
    peer_id: str
    target_id: str
    representation: str | None
    peer_card: list[str] | None


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int
    pages: int


class Summary(BaseModel):
    content: str
    message_id: str
    summary_type: str
    created_at: str
    token_count: int

    @classmethod
    def of(cls, summary: models.SessionSummary | None) -> Summary | None:
        if summary is None:
            return None
        return cls(content=summary.content, message_id=summary.message_uid,
                   summary_type=f"honcho_chat_summary_{summary.kind}",
                   created_at=summary.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   token_count=summary.token_count)


class SessionContextOut(BaseModel):
    id: str
    messages: list[MessageOut]
    summary: Summary | None = None
    peer_representation: str | None = None
    peer_card: list[str] | None = None


class SessionSummariesOut(BaseModel):
    id: str
    short_summary: Summary | None = None
    long_summary: Summary | None = None

    @classmethod
    def of(cls, session_id: str, found: dict[str, models.SessionSummary]) -> SessionSummariesOut:
        return cls(id=session_id, short_summary=Summary.of(found.get("short")),
                   long_summary=Summary.of(found.get("long")))


class QueueCountsOut(BaseModel):
    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int
    failed_work_units: int


class SessionQueueCountsOut(QueueCountsOut):
    session_id: str


class LLMOut(BaseModel):
    provider: str
    model: str | None


class QueueStatusOut(QueueCountsOut):
    sessions: dict[str, SessionQueueCountsOut] | None = None
    # For people, not the SDK (it ignores them): whether the reasoning work counted here runs at all.
    reasoning: Literal["on", "off"]
    reasoning_detail: str | None = None
    llm: LLMOut | None = None

    @classmethod
    def of(cls, status: models.QueueStatus, reasoning: dict[str, Any]) -> QueueStatusOut:
        sessions = None
        if status.sessions is not None:
            sessions = {
                name: SessionQueueCountsOut(session_id=name, **_counts(c)) for name, c in status.sessions.items()
            }
        return cls(**_counts(status.totals), sessions=sessions, **reasoning)


class _QueueCounts(TypedDict):
    """QueueCountsOut's fields (typed, so that spreading them into a model's constructor is checked)."""

    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int
    failed_work_units: int


def _counts(c: models.QueueCounts) -> _QueueCounts:
    return {
        "total_work_units": c.total,
        "completed_work_units": c.completed,
        "in_progress_work_units": c.in_progress,
        "pending_work_units": c.pending,
        "failed_work_units": c.failed,
    }


class Message(BaseModel):
    message: str


class KeyOut(BaseModel):
    key: str


class ReceiptCountsOut(BaseModel):
    conclusions_removed: int
    conclusions_updated: int
    conclusions_restored: int
    messages_removed: int
    summaries_removed: int
    cards_affected: int
    jobs_enqueued: int


class ReceiptOut(BaseModel):
    """What a cascading deletion removed, changed, restored and queued (domain/receipts.py)."""

    deleted: dict[str, str] | None
    conclusions_removed: list[str]
    conclusions_updated: list[str]
    conclusions_restored: list[str]
    messages_removed: list[str]
    summaries_removed: list[dict[str, Any]]
    cards_affected: list[dict[str, Any]]
    jobs_enqueued: list[dict[str, Any]]
    counts: ReceiptCountsOut


# ---- errors (documentation only: api/errors.py renders them) -------------------------------------


class ErrorOut(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    type: str
    loc: list[str | int]
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationErrorOut(BaseModel):
    """422 carries either FastAPI's list of field issues or, for semantic checks (spec 1.5), one message."""

    detail: list[ValidationIssue] | str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Unreadable body or a request that cannot be honoured"},
    401: {"model": ErrorOut, "description": "Missing, invalid or insufficient credentials"},
    404: {"model": ErrorOut, "description": "Resource not found"},
    422: {"model": ValidationErrorOut, "description": "Validation error"},
}


class UsageCountsOut(BaseModel):
    calls: int
    failed_calls: int
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # estimated; None when no call had a known price
    unpriced_calls: int  # calls whose model has no known price (not in cost_usd)


class ModelUsageOut(UsageCountsOut):
    task: str
    provider: str
    model: str
    mean_latency_ms: float


class UsageOut(BaseModel):
    workspace_id: str
    reasoning_enabled: bool
    totals: UsageCountsOut
    by_model: list[ModelUsageOut]

    @classmethod
    def of(cls, workspace_id: str, usage: Any) -> UsageOut:
        rows = usage.rows
        priced = [r.cost_usd for r in rows if r.cost_usd is not None]
        totals = UsageCountsOut(
            calls=sum(r.calls for r in rows), failed_calls=sum(r.failed for r in rows),
            requests=sum(r.requests for r in rows), input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows), cost_usd=sum(priced) if priced else None,
            unpriced_calls=sum(r.unpriced_calls for r in rows))
        by_model = [ModelUsageOut(task=r.task, provider=r.provider, model=r.model, calls=r.calls,
                                  failed_calls=r.failed, requests=r.requests, input_tokens=r.input_tokens,
                                  output_tokens=r.output_tokens, cost_usd=r.cost_usd,
                                  unpriced_calls=r.unpriced_calls, mean_latency_ms=round(r.mean_latency_ms, 1))
                    for r in rows]
        return cls(workspace_id=workspace_id, reasoning_enabled=usage.reasoning_enabled, totals=totals,
                   by_model=by_model)


# ---- scopes (spec 10.A) ----------------------------------------------------------------------

ScopeName = Annotated[str, StringConstraints(min_length=1, max_length=506, pattern=NAME_PATTERN)]


class ScopeCreate(_Body):
    id: ScopeName = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata | None = None


class ScopeSessionsBody(_Body):
    session_ids: list[str] = Field(min_length=1, max_length=100)


class ScopeOut(BaseModel):
    id: str
    metadata: dict[str, Any]
    created_at: datetime


class ScopeBackfillOut(BaseModel):
    state: Literal["pending", "completed", "failed"]
    updated_at: str  # isoformat with +00:00 (spec 1.3)
    docs_copied: int | None = None


class ScopeStatusOut(BaseModel):
    backfill_status: dict[str, ScopeBackfillOut]


class WebhookCreate(BaseModel):
    url: str = Field(description="http(s) URL of the receiver; public addresses only unless the server allows others")


class WebhookEndpointOut(BaseModel):
    id: str
    workspace_id: str
    url: str
    created_at: datetime
    secret: str | None = Field(default=None, description="the endpoint's signing secret (`whsec_...`), given when "
                               "the endpoint is created or asked for again with POST; never listed")


class WebhookDeliveryOut(BaseModel):
    id: str = Field(description="the event's webhook-id, the same on every attempt")
    endpoint_id: str
    event_type: str
    status: str = Field(description="pending (being tried), delivered, or failed (after the last attempt)")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    body: str = Field(description="exactly what is sent and signed")
    created_at: datetime
    updated_at: datetime
