"""A loopback OpenAI-compatible `/v1/embeddings` server for end-to-end tests (vectors from the hash embedder).

Each response goes out in one write with TCP_NODELAY, so clients never wait on delayed ACKs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from honcho_server.embeddings.hashing import HashEmbedder


class FakeEmbeddings:
    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.inputs: list[str] = []
        self.calls = 0
        self.delay = 0.0  # seconds each request is held (to catch a client mid-call)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path != "/v1/embeddings":
                    return self._reply(404, {"error": {"message": "not found"}})
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                fake.calls += 1
                fake.inputs.extend(texts)
                time.sleep(fake.delay)
                size = body.get("dimensions") or fake.dimensions
                vectors = asyncio.run(HashEmbedder(size).embed(texts))
                data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
                return self._reply(200, {"object": "list", "data": data, "model": body.get("model", "fake"),
                                         "usage": {"prompt_tokens": 0, "total_tokens": 0}})

            def _reply(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json"
                        f"\r\nContent-Length: {len(raw)}\r\n\r\n").encode()
                self.wfile.write(head + raw)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEmbeddings:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
