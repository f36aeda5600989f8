"""Server-sent events of the streamed chat (spec 11.4): each event one `data: {json}` line and a blank line;
deltas as the model writes them, then `{"done": true}` (with the evidence when asked for).

The response starts once the first delta (or the end) is there: a failure before that (the provider down, a
malformed answer) is still an ordinary JSON error with its status code. A failure after it ends the stream with
`{"error": "...", "done": false}` and no `done` event (the SDK ignores the error event; a stream without `done`
is an incomplete answer). A reader that goes away closes the deltas, which stops the model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import StreamingResponse

from honcho_server.errors import HonchoError

log = logging.getLogger("honcho_server.api")


def event(payload: dict[str, Any]) -> bytes:
    """One SSE event (json.dumps defaults, as upstream: ", " / ": " separators, non-ASCII escaped)."""
    return f"data: {json.dumps(payload)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Framing:
    """How a stream of text deltas is written: each delta, the error that ends it early (None: just end), the
    closing bytes (None: none), and the media type."""

    media_type: str
    delta: Callable[[str], bytes]
    error: Callable[[str], bytes | None]
    done: Callable[[], bytes | None]


async def stream(deltas: AsyncGenerator[str, None], framing: Framing) -> StreamingResponse:
    """Stream `deltas` (an async generator) once the first one is there: a failure before it raises here (an
    ordinary JSON error); a failure after it ends the body early, as the framing writes errors."""
    first: str | None = None
    try:
        first = await anext(deltas)
    except StopAsyncIteration:
        pass
    except BaseException:
        await deltas.aclose()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            if first:
                yield framing.delta(first)
            async for delta in deltas:
                if delta:
                    yield framing.delta(delta)
        except HonchoError as exc:
            log.warning("a streamed chat ended early: %s", exc.message)
            if (said := framing.error(exc.message)) is not None:
                yield said
            return
        except Exception:
            log.exception("a streamed chat failed")
            if (said := framing.error("The answer failed")) is not None:
                yield said
            return
        finally:
            await deltas.aclose()
        if (closing := framing.done()) is not None:
            yield closing

    return StreamingResponse(body(), media_type=framing.media_type,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def respond(deltas: AsyncGenerator[str, None], final: Callable[[], dict[str, Any]]) -> StreamingResponse:
    """The v3 chat's events: `final()` gives the extra fields of the terminal event once the deltas are exhausted."""
    return await stream(deltas, Framing(
        media_type="text/event-stream",
        delta=lambda text: event({"delta": {"content": text}, "done": False}),
        error=lambda message: event({"error": message, "done": False}),
        done=lambda: event({"done": True, **final()})))
