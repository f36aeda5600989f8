"""Domain exceptions, mapped to HTTP once in `api/errors.py`.

    HonchoError
    ├── NotFound            404  a workspace, peer, session, message ... does not exist
    ├── ValidationError     422  semantically invalid input (bad peer name, scope rules ...)
    │   └── FilterError     422  the filter DSL was misused
    ├── Conflict            409  the request conflicts with current state
    ├── Unauthorized        401  authentication or authorization failed (the API never says 403)
    ├── ObserverLimit       400  too many observers in one session
    ├── BadRequest          400  a well-formed request that cannot be honoured
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


class Disabled(HonchoError):
    status_code = 405
    default_message = "Feature is disabled"


class UnsupportedFileType(HonchoError):
    status_code = 415
    default_message = "Unsupported file type"


class FileTooLarge(HonchoError):
    status_code = 413
    default_message = "File too large"
