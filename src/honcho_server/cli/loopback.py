"""A loopback JSON-over-HTTP server for fakes of remote APIs (benchmarks and tests).

Each response goes out in one write with TCP_NODELAY: a client never waits ~40 ms on a delayed ACK, which would
otherwise dominate every latency figure measured against the fake. A handler may answer with `Streamed` instead of
a JSON payload: its events then go out as server-sent events, one HTTP chunk each, `delay` seconds apart."""

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

    events: Sequence[str]
    delay: float = 0.0  # seconds between events


# (path, decoded JSON body) -> (status, JSON payload or Streamed, extra headers)
Handle = Callable[[str, Any], tuple[int, Any, dict[str, str]]]


class LoopbackServer:
    """Start with `with LoopbackServer(handle) as server:`; `server.url` is its root (`http://127.0.0.1:PORT`)."""

    def __init__(self, handle: Handle, name: str = "loopback-fake") -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    status, payload, headers = handle(self.path, json.loads(raw))
                except (ValueError, KeyError, TypeError) as exc:
                    status, payload, headers = 400, {"error": {"message": f"bad request: {exc}"}}, {}
                if isinstance(payload, Streamed):
                    self._stream(status, payload, headers)
                    return
                body = json.dumps(payload).encode()
                extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json"
                        f"\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode()
                self.wfile.write(head + body)

            def _stream(self, status: int, streamed: Streamed, headers: dict[str, str]) -> None:
                extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                self.wfile.write((f"HTTP/1.1 {status} OK\r\nContent-Type: text/event-stream\r\n"
                                  f"Transfer-Encoding: chunked\r\n{extra}\r\n").encode())
                for number, data in enumerate(streamed.events):
                    if number and streamed.delay:
                        time.sleep(streamed.delay)
                    chunk = f"data: {data}\n\n".encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is no error here
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
