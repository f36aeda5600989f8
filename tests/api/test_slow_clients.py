"""Slow clients cannot hold the server (issue 12 F): a real `honcho-server serve` with small deadlines, spoken to
over raw sockets. A body trickled in gets a 408 and the connection closed, a client sending its headers slowly
and connections that send nothing are dropped, an idle kept-alive connection is closed, past the connection
cap requests are answered 503, and all the while other requests are served. Bounds are generous: each deadline
is 1 s and every wait allows several seconds more."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from server_process import ServerProcess

DEADLINE = 1.0  # header and body deadlines, keep-alive
MAX_CONNECTIONS = 250
SLACK = 8.0  # what any wait below allows beyond its deadline


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    workdir = tmp_path_factory.mktemp("slow-clients")
    srv = ServerProcess(name="slow-clients", db_url=f"sqlite:///{workdir / 'h.db'}", workdir=workdir, migrate=False,
                        extra_args=["--no-worker"], extra_env={
                            "HONCHO_EMBEDDING__PROVIDER": "hash",
                            "HONCHO_SERVER__HEADER_TIMEOUT_SECONDS": str(DEADLINE),
                            "HONCHO_SERVER__BODY_TIMEOUT_SECONDS": str(DEADLINE),
                            "HONCHO_SERVER__BODY_MIN_RATE": "1000",
                            "HONCHO_SERVER__KEEP_ALIVE_SECONDS": str(DEADLINE),
                            "HONCHO_SERVER__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
                        }).start()
    try:
        yield "127.0.0.1", srv.port
    finally:
        srv.stop()


def _connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=DEADLINE + SLACK)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout fails the test). A reset
    counts as closed: a client still sending after the server closed gets a RST, which may discard the answer."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        data += b"<reset>"
    return data


def _normal_request(address: tuple[str, int]) -> int:
    return httpx.get(f"http://{address[0]}:{address[1]}/health", timeout=SLACK).status_code


def test_a_trickled_body_is_a_408_and_the_connection_closes(server: tuple[str, int]) -> None:
    body = b'{"id": "ws-trickle"}'.ljust(400)
    with _connect(server) as sock:
        sock.sendall(b"POST /v3/workspaces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        with contextlib.suppress(OSError):  # the server may close while we still send
            for byte in body:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - started > DEADLINE + SLACK:
                    break
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"not received in time" in answer


def test_a_large_body_sent_steadily_is_not_cut(server: tuple[str, int]) -> None:
    """The deadline grows with what arrives: 30 KB over ~3 s (three times the fixed deadline) is fine."""
    body = b'{"id": "ws-steady"}'.ljust(30_000)
    with _connect(server) as sock:
        sock.sendall(b"POST /v3/workspaces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 1000):
            sock.sendall(body[i:i + 1000])
            time.sleep(0.1)
        answer = _read_until_closed(sock)
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 201 Created"), answer[:300]


def test_slow_headers_and_silent_connections_are_dropped_while_others_are_served(
    server: tuple[str, int],
) -> None:
    silent = [_connect(server) for _ in range(200)]
    slow = _connect(server)
    stop = threading.Event()

    def trickle_headers() -> None:
        with contextlib.suppress(OSError):
            slow.sendall(b"GET /health HTTP/1.1\r\n")
            for i in range(100):
                if stop.wait(0.2):
                    return
                slow.sendall(b"X-Slow-%d: y\r\n" % i)

    sender = threading.Thread(target=trickle_headers, daemon=True)
    sender.start()
    try:
        # While 200 connections say nothing and one dribbles its headers, requests are served.
        for _ in range(3):
            assert _normal_request(server) == 200
        answer = _read_until_closed(slow)  # dropped: the 408, or a reset (it was still sending headers)
        assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"<reset>", answer[:200]
        for sock in silent:
            assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
        assert _normal_request(server) == 200
    finally:
        stop.set()
        sender.join(timeout=5)
        for sock in (*silent, slow):
            sock.close()


def test_an_idle_kept_alive_connection_is_closed(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        started = time.monotonic()
        answer = _read_until_closed(sock)  # the response, then the close after the keep-alive time
        assert answer.startswith(b"HTTP/1.1 200 OK")
        # Closed by our keep-alive setting (1 s), not uvicorn's default (5 s): a wide margin for a loaded machine.
        assert time.monotonic() - started < 4.5


def test_past_the_connection_cap_requests_are_refused_until_idle_ones_are_dropped(
    server: tuple[str, int],
) -> None:
    idle = [_connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # let the server accept them all
        assert _normal_request(server) == 503
        for sock in idle:
            _read_until_closed(sock)  # dropped at the header deadline
        assert _normal_request(server) == 200
    finally:
        for sock in idle:
            sock.close()
