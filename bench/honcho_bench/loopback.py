"""A loopback JSON-over-HTTP server for fakes of remote APIs (benchmarks and tests).

Each response goes out in one write with TCP_NODELAY: a client never waits ~40 ms on a delayed ACK, which would
otherwise dominate every latency figure measured against the fake. A handler may answer with `Streamed` instead of
a JSON payload: its events then go out as server-sent events, one HTTP chunk each, `delay` seconds apart. GET
requests reach the handler too, with `None` for a body."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Streamed:
    """A `text/event-stream` answer: each event's data (already JSON text, or e.g. `[DONE]`) as one chunk."""

    # An event is its data, or an (event name, data) pair: Anthropic's SDK dispatches on `event:` lines.
    events: Sequence[str | tuple[str, str]]
    delay: float = 0.0  # seconds between events


# (path, decoded JSON body or None for a GET) -> (status, JSON payload or Streamed, extra headers); with
# `with_headers=True` the request's headers (lower-cased names) come third.
Handle = Callable[..., tuple[int, Any, dict[str, str]]]


class _Handler(BaseHTTPRequestHandler):
    """One request: decoded, answered by the server's handler, written in one piece (or as a stream)."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _answer(self, raw: bytes | None) -> None:
        try:
            body = None if raw is None else json.loads(raw)
            if self.server.with_headers:
                sent = {key.lower(): value for key, value in self.headers.items()}
                status, payload, headers = self.server.respond(self.path, body, sent)
            else:
                status, payload, headers = self.server.respond(self.path, body)
        except (ValueError, KeyError, TypeError) as exc:
            status, payload, headers = 400, {"error": {"message": f"bad request: {exc}"}}, {}
        if isinstance(payload, Streamed):
            self._stream(status, payload, headers)
        else:
            self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode()
        self.wfile.write(head + body)

    def _stream(self, status: int, streamed: Streamed, headers: dict[str, str]) -> None:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.wfile.write((f"HTTP/1.1 {status} OK\r\nContent-Type: text/event-stream\r\n"
                          f"Transfer-Encoding: chunked\r\n{extra}\r\n").encode())
        for number, event in enumerate(streamed.events):
            if number and streamed.delay:
                time.sleep(streamed.delay)
            name, data = event if isinstance(event, tuple) else ("", event)
            named = f"event: {name}\n" if name else ""
            chunk = f"{named}data: {data}\n\n".encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handle: Handle, with_headers: bool, port: int) -> None:
        self.respond, self.with_headers = handle, with_headers
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is no error here
            super().handle_error(request, client_address)


class LoopbackServer:
    """Start with `with LoopbackServer(handle) as server:`; `server.url` is its root (`http://127.0.0.1:PORT`, a
    free port unless `port` is given)."""

    def __init__(self, handle: Handle, name: str = "loopback-fake", with_headers: bool = False, port: int = 0) -> None:
        self._server = _Server(handle, with_headers, port)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll: shutdown() waits for it, and tests start and stop many fakes (the default is 0.5 s each).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name=name, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
