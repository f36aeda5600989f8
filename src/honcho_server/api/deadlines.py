"""Deadlines against slow clients: a connection cannot be held open by sending little or nothing.

Four bounds, all `server.*` settings (README, Configuration):

* headers: a new connection, or a kept-alive one starting its next request, must deliver the request line and
  headers within `header_timeout_seconds`, or it gets a 408 and is closed. uvicorn has no such deadline (its
  keep-alive timer only runs between requests), so the HTTP protocol classes below add one;
  `serve` runs them (`http=HTTP_PROTOCOL`);
* body: `BodyDeadline`, an ASGI middleware, answers 408 and closes the connection when the body is not received
  in time: `body_timeout_seconds`, extended by one second per `body_min_rate` bytes received. A large upload
  at any sensible speed is never cut; a body trickled a few bytes at a time is, after the fixed part. Only the
  time spent waiting for the client counts (not the time the app takes between reads);
* keep-alive: uvicorn's `timeout_keep_alive` (`keep_alive_seconds`);
* connections: uvicorn's `limit_concurrency` (`max_connections`): past it, requests are answered 503.

The header deadline reaches the protocol through the ASGI lifespan state (`lifespan_state`), which uvicorn hands
to every connection of the process, so each `--processes` worker uses its own app's settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER_TIMEOUT_KEY = "honcho.header_timeout_seconds"
HTTP_PROTOCOL = "honcho_server.api.deadlines:http_protocol"  # `http=` of uvicorn: the best available parser

_BODY_TIMEOUT_BODY = b'{"detail":"The request body was not received in time"}'
_HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 42\r\n\r\nThe request headers were not sent in time\n"
)


def lifespan_state(header_timeout_seconds: float) -> dict[str, Any]:
    """What the app's lifespan yields so that the HTTP protocol finds its header deadline."""
    return {HEADER_TIMEOUT_KEY: header_timeout_seconds}


class _BodyTooSlow(Exception):
    """Raised into the app from `receive` when the body deadline has passed."""


class BodyDeadline:
    """ASGI middleware: 408 (and the connection closed) for a request body not received in time."""

    def __init__(self, app: ASGIApp, timeout_seconds: float, min_rate: int) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        waited = 0.0  # seconds spent waiting for the client's body
        received = 0
        body_done = expired = started = False

        async def timed_receive() -> Message:
            nonlocal waited, received, body_done, expired
            if body_done:  # e.g. a streaming response watching for the disconnect
                return await receive()
            allowance = self.timeout_seconds + (received / self.min_rate if self.min_rate else 0.0)
            began = loop.time()
            try:
                async with asyncio.timeout(max(allowance - waited, 0.0)):
                    message = await receive()
            except TimeoutError:
                expired = True
                raise _BodyTooSlow from None
            finally:
                waited += loop.time() - began
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if expired and not started:
                return  # whatever the app makes of a body it never got is replaced by the 408
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not expired or started:
                raise
        if expired and not started:
            await send({"type": "http.response.start", "status": 408,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                    (b"content-length", str(len(_BODY_TIMEOUT_BODY)).encode())]})
            await send({"type": "http.response.body", "body": _BODY_TIMEOUT_BODY})


class _HeaderDeadline:
    """Mixed into uvicorn's HTTP protocols: a request's headers must arrive within the app's deadline."""

    _header_timer: asyncio.TimerHandle | None = None
    app_state: dict[str, Any]
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop

    def _arm_header_deadline(self) -> None:
        timeout = self.app_state.get(HEADER_TIMEOUT_KEY)
        if timeout and self._header_timer is None:
            self._header_timer = self.loop.call_later(timeout, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_HEADER_TIMEOUT_RESPONSE)
            self.transport.close()


def _with_header_deadline(base: type) -> type:
    if base.__module__.endswith("h11_impl"):
        import h11

        class H11WithDeadlines(_HeaderDeadline, base):
            def connection_made(self, transport: asyncio.Transport) -> None:
                super().connection_made(transport)
                self._arm_header_deadline()

            def data_received(self, data: bytes) -> None:
                if self.conn.their_state is h11.IDLE:  # between requests: the next one's headers are due
                    self._arm_header_deadline()
                super().data_received(data)
                if self.conn.their_state is not h11.IDLE:
                    self._disarm_header_deadline()

            def connection_lost(self, exc: Exception | None) -> None:
                self._disarm_header_deadline()
                super().connection_lost(exc)

        return H11WithDeadlines

    class HttpToolsWithDeadlines(_HeaderDeadline, base):
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_header_deadline()

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:  # the next request's headers are due
                self._arm_header_deadline()
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._disarm_header_deadline()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

    return HttpToolsWithDeadlines


def _best_protocol() -> type:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools missing: uvicorn's pure-Python parser, as its "auto" would pick
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return _with_header_deadline(H11Protocol)
    return _with_header_deadline(HttpToolsProtocol)


http_protocol = _best_protocol()
