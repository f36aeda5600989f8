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
from typing import Any

from fastapi.responses import StreamingResponse

from honcho_server.errors import HonchoError

log = logging.getLogger("honcho_server.api")


def event(payload: dict[str, Any]) -> bytes:
    """One SSE event (json.dumps defaults, as upstream: ", " / ": " separators, non-ASCII escaped)."""
    return f"data: {json.dumps(payload)}\n\n".encode()


async def respond(deltas: AsyncGenerator[str, None], final: Callable[[], dict[str, Any]]) -> StreamingResponse:
    """Stream `deltas` (an async generator); `final()` gives the extra fields of the terminal event once they are
    exhausted."""
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
                yield event({"delta": {"content": first}, "done": False})
            async for delta in deltas:
                if delta:
                    yield event({"delta": {"content": delta}, "done": False})
        except HonchoError as exc:
            yield event({"error": exc.message, "done": False})
            return
        except Exception:
            log.exception("a streamed chat failed")
            yield event({"error": "The answer failed", "done": False})
            return
        finally:
            await deltas.aclose()
        yield event({"done": True, **final()})

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
