"""Domain exceptions, mapped to HTTP once in `api/errors.py`.

    HonchoError
    ├── NotFound            404  a workspace, peer, session, message ... does not exist
    ├── ValidationError     422  semantically invalid input (bad peer name, scope rules ...)
    │   └── FilterError     422  the filter DSL was misused
    ├── Conflict            409  the request conflicts with current state
    ├── Unauthorized        401  authentication or authorization failed (the API never says 403)
    ├── ObserverLimit       400  too many observers in one session
    ├── BadRequest          400  a well-formed request that cannot be honoured
    ├── LLMFailed           502  the LLM provider failed or answered malformed, after the retries
    ├── LLMUnavailable      503  the LLM provider could not be reached
    ├── DatabaseUnavailable 503  the database is unreachable, failing over, read-only or full (Retry-After)
    ├── Disabled            405  the feature is switched off
    ├── UnsupportedFileType 415  upload of a type we cannot read
    └── FileTooLarge        413  upload over the size limit
"""


class HonchoError(Exception):
    """Base of every error the server reports to clients."""

    status_code = 500
    default_message = "An unexpected error occurred"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(HonchoError):
    status_code = 404
    default_message = "Resource not found"


class ValidationError(HonchoError):
    status_code = 422
    default_message = "Validation error"


class FilterError(ValidationError):
    default_message = "Invalid filter configuration"


class Conflict(HonchoError):
    status_code = 409
    default_message = "Resource conflict"


class Unauthorized(HonchoError):
    status_code = 401
    default_message = "Authentication failed"


class ObserverLimit(HonchoError):
    status_code = 400
    default_message = "Too many observers in this session"


class BadRequest(HonchoError):
    status_code = 400
    default_message = "Bad request"


class ReasoningOff(BadRequest):
    """A route that needs an LLM on a server without one (4xx, never 5xx: the SDK retries 5xx)."""

    default_message = (
        "Reasoning is off on this server: no LLM is configured. Set HONCHO_LLM__PROVIDER (openai, anthropic, "
        "gemini or openai-compatible) and HONCHO_LLM__MODEL, plus HONCHO_LLM__API_KEY and/or HONCHO_LLM__BASE_URL "
        "as the provider needs, then restart the server.")

    @classmethod
    def because(cls, problem: str | None) -> "ReasoningOff":
        """Off for a reason other than no provider at all (a setting missing): say which."""
        if problem is None:
            return cls()
        return cls(f"Reasoning is off on this server: {problem}; then restart the server.")


class LLMFailed(HonchoError):
    """The configured LLM could not give an answer (provider errors after the retries, or malformed answers
    after the re-asks): the server's upstream failed, not the request."""

    status_code = 502
    default_message = "The LLM provider failed"


class LLMUnavailable(HonchoError):
    """The configured LLM could not be reached at all: worth retrying later."""

    status_code = 503
    default_message = "The LLM provider is unreachable"


class DatabaseUnavailable(HonchoError):
    """The database cannot serve the request now (unreachable, restarting, failing over, read-only, full):
    a fault of the server's, not of the request, and retrying later helps. `cause` names it for the client."""

    status_code = 503
    default_message = "The database is unavailable"
    retry_after_seconds = 5

    def __init__(self, cause: str) -> None:
        super().__init__(f"The database is unavailable: {cause}. Retry later.")
        self.cause = cause


class Disabled(HonchoError):
    status_code = 405
    default_message = "Feature is disabled"


class UnsupportedFileType(HonchoError):
    status_code = 415
    default_message = "Unsupported file type"


class FileTooLarge(HonchoError):
    status_code = 413
    default_message = "File too large"


class EmbeddingSpaceMismatch(Exception):
    """The database holds vectors from another embedding model or dimension than the one configured.

    A start-up error (not an HTTP one): mixing vectors of two models would make search silently wrong."""

    def __init__(self, recorded: str, recorded_dims: int, configured: str, configured_dims: int) -> None:
        super().__init__(
            f"this database holds embeddings from {recorded} ({recorded_dims} dimensions), but the configured "
            f"embedder is {configured} ({configured_dims} dimensions). Run `honcho-server reembed` to re-embed "
            f"every message with the configured embedder, or configure {recorded} again "
            "(HONCHO_EMBEDDING__PROVIDER / __MODEL / __DIMENSIONS).")
        self.recorded, self.configured = recorded, configured
