"""Fixtures for the embedding tests: a scripted HTTP server (httpx.MockTransport) and a sleep that only records."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Answers each request with the next scripted reply (a response, an exception to raise, or a function of
    the request); once the script runs out, `default` answers."""

    default: Callable[[httpx.Request], httpx.Response] | None = None
    script: list[Reply] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply: Reply | None = self.script.pop(0) if self.script else self.default
        if reply is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, httpx.Response) else reply(request)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
async def http(server: FakeServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as client:
        yield client


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
