"""The error statuses each route documents in the OpenAPI document, derived in one place (spec 1.5).

`PolicyRoute` asks `documented_errors` for every route as it is registered, from what the route is:

* 401 unless its policy is public (credentials are checked, and refused, before anything else);
* 404 when its path names a resource, 422 when it takes any input (path, query or body);
* 400 (an unreadable body, or a request that cannot be honoured) and 408 (a body not sent in time, see
  api/deadlines.py) when it reads a body;
* 503 on every `/v3` and `/v1` route: the database is unavailable (see Dialect.fault), with Retry-After;
* what the route declares itself with `responses=` on top: `LLM_ERRORS` for the routes that call a model while
  the client waits (400 reasoning off, 502 provider failure, 503 provider unreachable), and its own statuses
  (413 and 415 for uploads, 409, 405).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from fastapi.dependencies.utils import get_dependant

from honcho_server.api.schemas import ErrorOut, ValidationErrorOut


class _Rule(Protocol):
    public: bool


def _error(description: str, model: type = ErrorOut) -> dict[str, Any]:
    return {"model": model, "description": description}


ERRORS: dict[int, dict[str, Any]] = {
    400: _error("Unreadable body or a request that cannot be honoured"),
    401: _error("Missing, invalid or insufficient credentials"),
    404: _error("Resource not found"),
    408: _error("The request body was not received in time"),
    422: _error("Validation error", ValidationErrorOut),
    503: _error("The database is unavailable (unreachable, restarting, read-only or full); retry after the "
                "Retry-After header's seconds"),
}

LLM_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Reasoning is off (no LLM provider configured), or the request cannot be honoured"),
    502: _error("The LLM provider failed, or its answers did not validate, after the retries"),
    503: _error("The LLM provider is unreachable, or the database is unavailable (then with Retry-After)"),
}

_PATH_PARAM = re.compile(r"{[^}]+}")


def documented_errors(rule: _Rule, path: str, endpoint: Callable[..., Any],
                      declared: dict[int | str, dict[str, Any]] | None) -> dict[int | str, dict[str, Any]]:
    """The route's `responses=`: the statuses its policy and shape imply, then those it declares (which win)."""
    dependant = get_dependant(path=path, call=endpoint)
    codes: set[int] = set()
    if not rule.public:
        codes.add(401)
    if _PATH_PARAM.search(path):
        codes |= {404, 422}
    if dependant.query_params or dependant.header_params or dependant.path_params:
        codes.add(422)
    if _reads_body(dependant):
        codes |= {400, 408, 422}
    if path.startswith(("/v3/", "/v1/")):  # every API route reads or writes the database (api/errors.py: faults)
        codes.add(503)
    return {**{code: ERRORS[code] for code in sorted(codes)}, **(declared or {})}


def _reads_body(dependant: Any) -> bool:
    return bool(dependant.body_params) or any(_reads_body(d) for d in dependant.dependencies)
