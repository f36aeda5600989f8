"""Domain errors as MCP errors: a tool answers an error result the model can read (never a crash or a traceback),
a resource or prompt read answers a JSON-RPC error."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import mcp_types
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from honcho_server import errors

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("honcho_server.mcp")
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource


def label(exc: errors.HonchoError) -> str:
    """A word a model can act on, in front of the server's own message."""
    if isinstance(exc, errors.NotFound):
        return "not found"
    if isinstance(exc, errors.Unauthorized):
        return "forbidden"
    if isinstance(exc, errors.ReasoningOff):
        return "reasoning off"
    if exc.status_code < 500:
        return "bad input"
    return "unavailable, retry later"


def _message(exc: Exception) -> str | None:
    """The text for a known failure; None for a fault of ours (logged, then reported without internals)."""
    if isinstance(exc, errors.HonchoError):
        return f"{label(exc)}: {exc.message}"
    if isinstance(exc, ValueError):  # the domain's own checks (names, configurations) raise plain ValueErrors
        return f"bad input: {exc}"
    return None


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a tool: known failures become a ToolError (an `isError` result) with a clear message."""

    @functools.wraps(fn)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ToolError:
            raise
        except Exception as exc:
            text = _message(exc)
            if text is None:
                log.exception("MCP tool %s failed", fn.__name__)
                text = f"internal error: {type(exc).__name__}; the server's log has the details"
            raise ToolError(text) from exc

    return guarded


def read_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a resource or prompt: known failures become a JSON-RPC error with a clear message."""

    @functools.wraps(fn)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except MCPError:
            raise
        except Exception as exc:
            text = _message(exc)
            if text is None:
                log.exception("MCP read %s failed", fn.__name__)
                raise MCPError(code=mcp_types.INTERNAL_ERROR, message="internal error") from exc
            code = RESOURCE_NOT_FOUND if isinstance(exc, errors.NotFound) else mcp_types.INVALID_PARAMS
            raise MCPError(code=code, message=text) from exc

    return guarded
