"""Webhooks on both databases: the endpoint routes (spec 10.B), signed delivery by the worker to a real loopback
receiver (Standard Webhooks headers verified as a receiver would), retries parked and re-driven with the same
webhook-id, the delivery log, SSRF refusals at registration and after DNS resolution, redirects not followed,
events written with what caused them (queue.empty, job.failed, summary.created, conclusions.derived,
deletion.finished), and workspace-level keys only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from api_helpers import JWT_SECRET, add_messages, bearer, create_session, expect, msg, sign, ws_url
from pydantic import SecretStr

from fake_openai import FakeOpenAI
from honcho_server.config import Settings
from honcho_server.domain import webhooks as events
from honcho_server.llm.client import LLMClient
from honcho_server.queue import jobs
from honcho_server.services.deps import Deps
from honcho_server.store.migrate import upgrade
from honcho_server.worker.runtime import Worker
from support import api_client, fresh_database_url, new_deps


class Receiver:
    """A loopback HTTP receiver: records each request's raw body and headers, answers `status` (or a redirect)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        self.status = 204
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                extra = "Location: http://127.0.0.1:9/elsewhere\r\n" if 300 <= outer.status < 400 else ""
                self.wfile.write(f"HTTP/1.1 {outer.status} X\r\nContent-Length: 0\r\n{extra}\r\n".encode())

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
async def deps(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deps]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(f"webhooks-{backend}"))
    upgrade(url)
    deps = new_deps(url, webhooks={"allow_private": True}, worker={"max_attempts": 2})
    yield deps
    await deps.db.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
async def client(deps: Deps) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(deps) as c:
        yield c


def _with_webhooks(deps: Deps, **changes: Any) -> Deps:
    """Deps on the same database with other webhook settings."""
    webhooks = deps.settings.webhooks.model_copy(update=changes)
    return Deps(db=deps.db, settings=deps.settings.model_copy(update={"webhooks": webhooks}))


async def _register(client: httpx.AsyncClient, ws: str, url: str) -> dict[str, Any]:
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
    return expect(await client.post(ws_url(ws, "webhooks"), json={"url": url}), 201)


async def _retry_now(deps: Deps) -> None:
    """Bring retries that back off into the future due now (the queue's backoff is tested elsewhere)."""
    from sqlalchemy import update

    from honcho_server.store.tables import jobs as table

    async with deps.db.write() as conn:
        await conn.execute(update(table).where(table.c.status == "pending").values(run_after=deps.now()))


async def test_endpoint_routes(client: httpx.AsyncClient, ws: str, receiver: Receiver) -> None:
    created = await _register(client, ws, receiver.url)
    assert set(created) == {"id", "workspace_id", "url", "created_at", "secret"}
    assert created["workspace_id"] == ws and created["url"] == receiver.url and len(created["id"]) == 21
    assert created["secret"].startswith("whsec_")
    again = expect(await client.post(ws_url(ws, "webhooks"), json={"url": receiver.url}), 200)
    assert again["id"] == created["id"] and again["secret"] == created["secret"]
    listed = expect(await client.get(ws_url(ws, "webhooks")), 200)
    assert [e["id"] for e in listed["items"]] == [created["id"]] and "secret" not in listed["items"][0]
    assert listed["total"] == 1
    expect(await client.delete(ws_url(ws, "webhooks", created["id"])), 204)
    expect(await client.delete(ws_url(ws, "webhooks", created["id"])), 404)
    assert expect(await client.get(ws_url(ws, "webhooks")), 200)["items"] == []
    expect(await client.post(ws_url("no-such-ws", "webhooks"), json={"url": receiver.url}), 404)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http:///path", "https://" + "a" * 2050])
async def test_bad_urls_are_422(client: httpx.AsyncClient, ws: str, url: str) -> None:
    expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
    expect(await client.post(ws_url(ws, "webhooks"), json={"url": url}), 422)
    assert expect(await client.get(ws_url(ws, "webhooks")), 200)["items"] == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://10.0.0.5/x", "http://[::1]/x", "http://169.254.169.254/",
                                 "http://[::ffff:192.168.1.1]/x", "http://0.0.0.0/"])
async def test_non_public_addresses_are_refused_unless_allowed(deps: Deps, ws: str, url: str) -> None:
    strict = _with_webhooks(deps, allow_private=False)
    async with api_client(strict) as client:
        expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
        detail = expect(await client.post(ws_url(ws, "webhooks"), json={"url": url}), 422)["detail"]
        assert "non-public" in detail and "HONCHO_WEBHOOKS__ALLOW_PRIVATE" in detail


async def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(deps: Deps, ws: str,
                                                                           receiver: Receiver) -> None:
    strict = _with_webhooks(deps, allow_private=False)
    async with api_client(strict) as client:
        port = receiver.url.split(":")[2].split("/")[0]
        endpoint = await _register(client, ws, f"http://localhost:{port}/hook")  # a name: resolved when sending
        expect(await client.get(ws_url(ws, "webhooks/test")), 200)
        await Worker(strict).drain()
        log = expect(await client.get(ws_url(ws, "webhooks", endpoint["id"], "deliveries")), 200)["items"]
    assert receiver.received == []  # never reached
    assert log[0]["status"] == "pending" and "non-public address" in log[0]["last_error"]


async def test_limit_is_409(deps: Deps, ws: str) -> None:
    few = _with_webhooks(deps, max_endpoints=2)
    async with api_client(few) as client:
        expect(await client.post("/v3/workspaces", json={"id": ws}), 201)
        for n in range(2):
            expect(await client.post(ws_url(ws, "webhooks"), json={"url": f"https://example.com/{n}"}), 201)
        detail = expect(await client.post(ws_url(ws, "webhooks"), json={"url": "https://example.com/x"}), 409)
        assert "Maximum number of webhook endpoints (2)" in detail["detail"]


async def test_a_test_event_is_delivered_signed(client: httpx.AsyncClient, deps: Deps, ws: str,
                                                receiver: Receiver) -> None:
    endpoint = await _register(client, ws, receiver.url)
    assert expect(await client.get(ws_url(ws, "webhooks/test")), 200) is None
    assert receiver.received == []  # delivered by the worker, not by the request
    await Worker(deps).drain()
    ((headers, body),) = receiver.received
    event = json.loads(body)
    assert event["type"] == "test.event" and event["data"] == {"workspace_id": ws}
    assert body == json.dumps(event, sort_keys=True, separators=(",", ":"))  # compact, keys sorted (spec 14.2)
    assert headers["content-type"] == "application/json" and len(headers["webhook-id"]) == 21
    assert events.verify(endpoint["secret"], headers, body, now=int(time.time()))
    assert not events.verify(endpoint["secret"], headers, body + " ", now=int(time.time()))  # tampered
    assert not events.verify(endpoint["secret"], headers, body, now=int(time.time()) + 3600)  # replayed later
    assert not events.verify(events.new_secret(), headers, body, now=int(time.time()))  # another endpoint's
    assert "x-honcho-signature" not in headers  # no server-wide secret configured
    (logged,) = expect(await client.get(ws_url(ws, "webhooks", endpoint["id"], "deliveries")), 200)["items"]
    assert (logged["id"], logged["status"], logged["attempts"], logged["last_status_code"]) == (
        headers["webhook-id"], "delivered", 1, 204)
    assert logged["body"] == body and logged["event_type"] == "test.event"


async def test_failures_are_retried_parked_and_redriven_with_the_same_id(
        client: httpx.AsyncClient, deps: Deps, ws: str, receiver: Receiver) -> None:
    endpoint = await _register(client, ws, receiver.url)
    receiver.status = 500
    expect(await client.get(ws_url(ws, "webhooks/test")), 200)
    await Worker(deps).drain()
    await _retry_now(deps)
    await Worker(deps).drain()  # the second and last attempt (worker.max_attempts = 2)
    log_url = ws_url(ws, "webhooks", endpoint["id"], "deliveries")
    (logged,) = expect(await client.get(log_url), 200)["items"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == ("failed", 2, 500)
    assert len(receiver.received) == 2 and receiver.received[0][0]["webhook-id"] == receiver.received[1][0][
        "webhook-id"]
    receiver.status = 200
    async with deps.db.write() as conn:
        assert await jobs.redrive(conn, None, deps.now()) >= 1
    await Worker(deps).drain()
    (logged,) = expect(await client.get(log_url), 200)["items"]
    assert (logged["status"], logged["attempts"]) == ("delivered", 3)
    assert receiver.received[2][0]["webhook-id"] == logged["id"]


async def test_redirects_are_not_followed(client: httpx.AsyncClient, deps: Deps, ws: str,
                                          receiver: Receiver) -> None:
    endpoint = await _register(client, ws, receiver.url)
    receiver.status = 302
    expect(await client.get(ws_url(ws, "webhooks/test")), 200)
    await Worker(deps).drain()
    (logged,) = expect(await client.get(ws_url(ws, "webhooks", endpoint["id"], "deliveries")), 200)["items"]
    assert logged["last_status_code"] == 302 and "redirects are not followed" in logged["last_error"]
    assert len(receiver.received) == 1


async def test_a_server_wide_secret_adds_the_reference_signature(deps: Deps, ws: str, receiver: Receiver) -> None:
    legacy = _with_webhooks(deps, legacy_secret=SecretStr("reference-secret"))
    async with api_client(legacy) as client:
        await _register(client, ws, receiver.url)
        expect(await client.get(ws_url(ws, "webhooks/test")), 200)
        await Worker(legacy).drain()
    ((headers, body),) = receiver.received
    assert headers["x-honcho-signature"] == events.legacy_signature("reference-secret", body)


async def test_memory_events_come_with_what_caused_them(deps: Deps, ws: str, receiver: Receiver) -> None:
    settings = deps.settings.model_copy(deep=True)
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    with FakeOpenAI() as fake:
        settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "m",
                                                    "output_mode": "prompted", "base_url": fake.base_url})

        def answer(body: dict[str, Any]) -> Any:
            system = str(body["messages"][0]["content"])
            if "summary" in system.lower():
                return "Ann and Bob talked about tea."
            return {"conclusions": [{"content": "ann likes tea", "sources": [1]}]}

        fake.responder = answer
        llm_deps = Deps(db=deps.db, settings=settings)

        async def no_wait(_: float) -> None:
            return None

        llm_deps.llm_instance = LLMClient(settings.llm, llm_deps.record_llm_call, sleep=no_wait)
        async with api_client(llm_deps) as client:
            await _register(client, ws, receiver.url)
            config = {"summary": {"messages_per_short_summary": 10, "messages_per_long_summary": 20}}
            await create_session(client, ws, "s", peers={"ann": {}, "bob": {}}, configuration=config)
            await add_messages(client, ws, "s", [msg("ann" if i % 2 else "bob", f"I like tea, note {i}")
                                                  for i in range(1, 11)])
            await Worker(llm_deps).drain()
            await Worker(llm_deps).drain()  # the deliveries the first round queued
            kinds = [e["type"] for e in receiver.events()]
            assert "conclusions.derived" in kinds and "summary.created" in kinds and "queue.empty" in kinds
            empties = [e["data"] for e in receiver.events() if e["type"] == "queue.empty"]
            assert {(d["queue_type"], d["observed"]) for d in empties} >= {("representation", "ann"),
                                                                            ("summary", None)}
            assert all(d["workspace_id"] == ws and d["session_id"] == "s" and d["observer"] is None for d in empties)
            summary = next(e["data"] for e in receiver.events() if e["type"] == "summary.created")
            assert summary["summary_type"] == "short" and summary["session_id"] == "s"
            expect(await client.delete(ws_url(ws, "sessions", "s")), 202)
            await Worker(llm_deps).drain()
            await Worker(llm_deps).drain()
            deleted = [e["data"] for e in receiver.events() if e["type"] == "deletion.finished"]
            assert deleted and deleted[0]["session_id"] == "s" and "receipt" in deleted[0]


async def test_a_parked_job_is_announced(deps: Deps, ws: str, receiver: Receiver) -> None:
    settings = deps.settings.model_copy(deep=True)
    settings.deriver = settings.deriver.model_validate({"flush_seconds": 0})
    with FakeOpenAI() as fake:  # nothing scripted: every request is a 500
        settings.llm = settings.llm.model_validate({"provider": "openai-compatible", "model": "m",
                                                    "output_mode": "prompted", "base_url": fake.base_url,
                                                    "max_retries": 0})
        llm_deps = Deps(db=deps.db, settings=settings)
        async with api_client(llm_deps) as client:
            await _register(client, ws, receiver.url)
            await create_session(client, ws, "s", peers={"ann": {}})
            await add_messages(client, ws, "s", [msg("ann", "I like tea")])
            for _ in range(3):
                await Worker(llm_deps).drain()
                await _retry_now(deps)
    failed = [e["data"] for e in receiver.events() if e["type"] == "job.failed"]
    assert failed and failed[0]["job_kind"] == "representation" and failed[0]["session_id"] == "s"
    assert "HTTP 500" in failed[0]["error"]


async def test_only_workspace_keys_manage_webhooks(deps: Deps, ws: str) -> None:
    settings = Settings(db={"url": deps.settings.db.url}, auth={"enabled": True, "jwt_secret": JWT_SECRET})
    async with api_client(Deps(db=deps.db, settings=settings)) as client:
        admin = bearer(sign(ad=True))
        expect(await client.post("/v3/workspaces", json={"id": ws}, headers=admin), 201)
        expect(await client.post(ws_url(ws, "sessions"), json={"id": "s", "peers": {"alice": {}}}, headers=admin),
               201)
        for token in (sign(w=ws, p="alice"), sign(w=ws, s="s"), sign(w="other"), None):
            headers = bearer(token) if token else {}
            expect(await client.post(ws_url(ws, "webhooks"), json={"url": "https://example.com/h"},
                                     headers=headers), 401)
            expect(await client.get(ws_url(ws, "webhooks"), headers=headers), 401)
            expect(await client.get(ws_url(ws, "webhooks/test"), headers=headers), 401)
        made = expect(await client.post(ws_url(ws, "webhooks"), json={"url": "https://example.com/h"},
                                        headers=bearer(sign(w=ws))), 201)
        expect(await client.get(ws_url(ws, "webhooks", made["id"], "deliveries"),
                                headers=bearer(sign(w=ws, p="alice"))), 401)
