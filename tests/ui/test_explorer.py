"""The memory explorer (/ui) in a real browser: Playwright driving Debian's Chromium against live servers (the
`serve` command, SQLite) with a seeded world (tests/explorer_world.py) and the loopback fake model for the chat.

* Chromium is the distribution's (`/usr/bin/chromium`). When it is missing and this runs as root with apt-get it
  is installed like the TypeScript suite's Node.js (tests/sdk/test_typescript_sdk.py); otherwise the module is
  skipped, saying what to install.
* Each page gets an accessibility check: axe-core (pinned in tests/ts/package.json, installed by the same `npm ci`
  as the TypeScript SDK) injected into the page, no serious or critical violation allowed; and a screenshot, saved
  to $HONCHO_TEST_ARTIFACTS/ui (default tests/ui/artifacts/, git-ignored).
* One browser for the module; two servers: auth off with reasoning on (the fake model), and auth on with
  reasoning off (keys pasted into the page; the banner says how to turn reasoning on).
* The pages' data all comes through the API, whose routes are tested on both databases (tests/api); the browser
  runs on SQLite only, to keep the suite's time small.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from test_typescript_sdk import NODE_MODULES, _apt_install, node  # noqa: F401 - `node` is a fixture (npm ci)

from explorer_world import CARD, JOB_ERROR, LISBON, SUMMARY, TEA, World, build
from honcho_bench.loopback import Streamed
from provider_fakes import TEXT, OpenAIFake
from server_process import ServerProcess
from support import new_deps

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is in the [test] extra")

CHROMIUM = "/usr/bin/chromium"
SECRET = "explorer-test-secret-that-is-long-enough"
ARTIFACTS = Path(os.environ.get("HONCHO_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts") / "ui"
SERIOUS = ("serious", "critical")


def _chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None and os.geteuid() == 0:
        note = _apt_install(["chromium"])
        found = shutil.which("chromium")
        if found is None:
            pytest.fail(f"Chromium is needed for the explorer's browser tests: {note}", pytrace=False)
    if found is None:
        pytest.skip("Chromium is not installed and this is not root, so it cannot be installed here "
                    "(Debian: apt-get install chromium)")
    return found


# ---- servers and the world -----------------------------------------------------------------------------------


class GatedModel(OpenAIFake):
    """The suite's capable fake model; a streamed answer (the dialectic's `answer` tool call) sends its first half,
    then holds the rest until `release` is set: a test sees the answer growing before it is complete, whatever the
    timing."""

    def __init__(self) -> None:
        super().__init__("full")
        self.release = threading.Event()
        self.release.set()  # held only while a test clears it

    def _reply(self, status: int, payload: Any) -> tuple[int, Any, dict[str, str]]:
        status, payload, headers = super()._reply(status, payload)  # recorded whole, as sent
        if isinstance(payload, Streamed) and any('"name": "answer"' in str(e) for e in payload.events):
            events = list(payload.events)

            def gated() -> Iterator[Any]:
                for number, event in enumerate(events):
                    if number == len(events) // 2:
                        self.release.wait(timeout=60)
                    yield event

            payload = Streamed(gated())  # type: ignore[arg-type]  # the loopback server only iterates it
        return status, payload, headers


@pytest.fixture(scope="module")
def fake_model() -> Iterator[GatedModel]:
    with GatedModel() as fake:
        yield fake


def _serve(name: str, tmp: Path, env: dict[str, str], secret: str | None = None) -> ServerProcess:
    if secret:
        env = env | {"HONCHO_AUTH__ENABLED": "true", "HONCHO_AUTH__JWT_SECRET": secret}
    return ServerProcess(name=name, db_url=f"sqlite:///{tmp / 'honcho.db'}", workdir=tmp, migrate=True,
                         extra_env=env, secret=secret).start()


async def _seed(srv: ServerProcess, ws: str, headers: dict[str, str] | None = None) -> World:
    deps = new_deps(srv.db_url)
    try:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
            return await build(client, deps, ws, headers)
    finally:
        await deps.db.dispose()


@pytest.fixture(scope="module")
async def open_server(tmp_path_factory: pytest.TempPathFactory, fake_model: GatedModel
                      ) -> AsyncIterator[tuple[ServerProcess, World]]:
    """Auth off, reasoning on: the fake model answers the chat (and the worker's own calls)."""
    env = {"HONCHO_LLM__PROVIDER": "openai-compatible", "HONCHO_LLM__MODEL": "stand-in",
           "HONCHO_LLM__BASE_URL": fake_model.base_url}
    srv = await asyncio.to_thread(_serve, "ui-open", tmp_path_factory.mktemp("ui-open"), env)
    try:
        yield srv, await _seed(srv, "explorer")
    finally:
        srv.stop()


def key(**claims: Any) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
async def auth_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ServerProcess, World]]:
    """Auth on, reasoning off: workspace `team` holds the world, `other` a bare workspace of someone else."""
    srv = await asyncio.to_thread(_serve, "ui-auth", tmp_path_factory.mktemp("ui-auth"), {}, SECRET)
    admin = {"Authorization": f"Bearer {key(ad=True)}"}
    try:
        world = await _seed(srv, "team", admin)
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
            assert (await client.post("/v3/workspaces", json={"id": "other"}, headers=admin)).status_code < 300
        yield srv, world
    finally:
        srv.stop()


# ---- the browser -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source(node: tuple[str, int]) -> str:  # noqa: F811 - the fixture imported above
    return (NODE_MODULES / "axe-core" / "axe.min.js").read_text()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    executable = _chromium()
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        await launched.close()


AXE_URL = "/ui/__axe.min.js"  # served by the test (page.route), so the pages' CSP (scripts of 'self') allows it


@pytest.fixture
async def page(browser: Any, axe_source: str) -> AsyncIterator[Any]:
    """A fresh page with the pages' own CSP in force: script errors and CSP refusals fail the test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.route(f"**{AXE_URL}", lambda route: route.fulfill(body=axe_source,
                                                                    content_type="application/javascript"))
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield opened
    await context.close()
    assert errors == [], f"script errors or CSP refusals in the page: {errors}"


async def checked(page: Any, name: str) -> None:
    """A screenshot, then axe-core on the whole page: no serious or critical violation; one h1; labelled fields."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.add_script_tag(url=AXE_URL)
    found = await page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
        .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    bad = [v for v in found if v["impact"] in SERIOUS]
    assert bad == [], f"{name}: accessibility violations {bad}"
    assert await page.locator("h1").count() == 1, f"{name}: one h1"
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('input, textarea, select')]
        .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML)""")
    assert unlabelled == [], f"{name}: fields without a label {unlabelled}"


async def settled(page: Any) -> None:
    """The page the address names is drawn and every section of it has loaded (no 'Loading…' left). Checking the
    drawn page first matters: right after a click, the previous page is still there, fully loaded."""
    await page.wait_for_function(
        "() => document.getElementById('view').dataset.route === (location.hash || '#/')"
        " && !document.querySelector('.loading')")


# ---- auth off: every page -------------------------------------------------------------------------------------


async def test_workspaces_workspace_and_search(page: Any, open_server: tuple[ServerProcess, World]) -> None:
    srv, world = open_server
    await page.goto(f"{srv.base_url}/ui/")
    await settled(page)
    assert "Reasoning is on" in await page.locator("#banner").inner_text()
    await checked(page, "01-workspaces")
    await page.get_by_role("link", name=world.ws, exact=True).click()
    await settled(page)
    assert await page.locator("h1").inner_text() == f"Workspace {world.ws}"
    peers = page.get_by_role("table", name="Peers")
    assert await peers.get_by_role("link", name="alice").count() == 1
    assert await peers.get_by_role("link", name="bob").count() == 1
    assert await page.get_by_role("table", name="Sessions").get_by_role("link", name="s1").count() == 1
    await page.get_by_label("Search this workspace's messages").fill("green tea morning")
    await page.get_by_role("button", name="Search").click()
    hit = page.locator(".results .message", has_text=TEA)
    await hit.wait_for()
    await checked(page, "02-workspace-search")
    await hit.get_by_role("link", name="in session s1").click()  # to the message in its session
    await page.locator(".message.focused", has_text=TEA).first.wait_for()


async def test_session_messages_summaries_and_context(page: Any, open_server: tuple[ServerProcess, World]) -> None:
    srv, world = open_server
    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/session/{world.session}")
    await settled(page)
    messages = page.get_by_role("region", name="Messages")
    assert await messages.locator(".message").count() == 20
    assert "page 1 of 2 (25)" in await messages.locator(".pager").inner_text()
    await messages.get_by_role("button", name="Next").click()
    await messages.get_by_text("page 2 of 2").wait_for()
    assert await messages.locator(".message").count() == 5
    summaries = page.get_by_role("region", name="Summaries")
    assert SUMMARY in await summaries.locator("article", has_text="Long summary").inner_text()
    used = page.locator("#context-used")
    await used.wait_for()
    whole = await page.locator(".context .message").count()
    slider = page.get_by_label("Token budget")
    await slider.fill("50")  # a range input takes its value and fires `input`
    await page.wait_for_function("() => document.querySelector('#context-used').textContent.includes('of 50 tokens')")
    assert await page.locator(".context .message").count() < whole
    await page.get_by_label("Search this session's messages").fill("Porto")
    await page.get_by_role("button", name="Search").click()
    await page.locator(".results .message", has_text="Porto").first.wait_for()
    await checked(page, "03-session")


async def test_peer_page_and_provenance(page: Any, open_server: tuple[ServerProcess, World]) -> None:
    srv, world = open_server
    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/peer/alice")
    await settled(page)
    assert await page.get_by_role("region", name="Peer card").locator("li").all_inner_texts() == CARD
    representation = await page.get_by_role("region", name="Representation").inner_text()
    assert "Alice drinks green tea every morning" in representation
    assert await page.get_by_role("region", name="Sessions").get_by_role("link", name="s1").count() == 1
    levels = page.get_by_role("region", name="Conclusions by level")
    tea = page.get_by_role("region", name="Explicit conclusions").locator(
        ".conclusion", has_text="Alice drinks green tea every morning")
    assert "derived 3 times" in await tea.inner_text()
    assert await page.get_by_role("region", name="Deductive conclusions").get_by_text(
        "Alice keeps a morning routine").count() == 1
    assert await page.get_by_role("region", name="Contradictions conclusions").get_by_text(
        "Alice said she lives in Lisbon and also in Porto").count() == 1
    history = page.get_by_role("region", name="Supersession history")
    assert await history.get_by_text("Alice lives in Lisbon").count() == 1
    assert await levels.get_by_text("Alice lives in Lisbon", exact=True).count() == 0  # history, not current

    routine = levels.locator(".conclusion", has_text="Alice keeps a morning routine")
    await routine.get_by_text("Sources and premises").click()
    premises = routine.locator(".related", has_text="Premises")
    await premises.get_by_text("Alice drinks green tea every morning").wait_for()
    await tea.get_by_text("Sources and premises").click()  # provenance: the source message, one click away
    source = tea.locator(".message", has_text=TEA)
    await source.wait_for()
    await checked(page, "04-peer")
    await source.get_by_role("link", name="in session s1").click()
    focused = page.locator(".message.focused", has_text=TEA).first
    await focused.wait_for()
    assert f"/session/{world.session}/m/{world.messages[TEA]}" in page.url
    await checked(page, "05-source-message")

    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/conclusion/{world.conclusions['porto']}")
    await settled(page)
    text = await page.locator("main").inner_text()
    assert "Supersession history (what it replaced)" in text and "Alice lives in Lisbon" in text
    assert LISBON in text and "Alice said she lives in Lisbon and also in Porto" in text  # sources, cited by
    await page.get_by_role("link", name="Alice lives in Lisbon").click()
    await page.get_by_text("Replaced").wait_for()
    assert "superseded" in await page.locator(".facts").inner_text()
    await checked(page, "06-conclusion")


async def test_chat_streams_with_evidence(page: Any, open_server: tuple[ServerProcess, World],
                                          fake_model: GatedModel) -> None:
    srv, world = open_server
    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/peer/alice")
    await settled(page)
    await page.get_by_label("Question about alice").fill("What does alice drink?")
    fake_model.release.clear()  # the model's answer stops after its first pieces
    try:
        await page.get_by_role("button", name="Ask").click()
        await page.wait_for_function("() => document.querySelector('.answer-text')?.textContent.length > 0")
        partial = await page.locator(".answer-text").inner_text()
        assert TEXT.startswith(partial) and len(partial) < len(TEXT)  # shown while it is being written
        assert await page.locator("#chat-answer[data-done]").count() == 0
    finally:
        fake_model.release.set()
    await page.locator("#chat-answer[data-done=true]").wait_for()
    assert await page.locator(".answer-text").inner_text() == TEXT
    evidence = page.locator(".evidence")
    await evidence.wait_for()
    assert await evidence.get_by_role("heading", name="Evidence").count() == 1
    assert await evidence.get_by_role("link", name="Alice drinks green tea every morning").count() == 1
    await checked(page, "07-chat")


async def test_queue_and_usage(page: Any, open_server: tuple[ServerProcess, World]) -> None:
    srv, world = open_server
    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/queue")
    await settled(page)
    failed = page.get_by_role("table", name="Failed jobs")
    assert JOB_ERROR in await failed.inner_text()
    assert await page.get_by_role("table", name="Work units").count() == 1
    await checked(page, "08-queue")
    await page.goto(f"{srv.base_url}/ui/#/w/{world.ws}/usage")
    await settled(page)
    chart = page.get_by_role("img", name=re.compile("per day"))
    assert await chart.locator("rect.bar").count() >= 3
    days = await page.get_by_role("table", name="Per day").inner_text()
    assert all(day in days for day in world.usage_days)
    assert "gpt-4.1-mini" in await page.get_by_role("table", name="By task and model").inner_text()
    await checked(page, "09-usage")


async def test_the_accessibility_check_finds_violations(page: Any, open_server: tuple[ServerProcess, World]) -> None:
    """The check above can fail: an unlabelled field is a critical violation."""
    srv, _ = open_server
    await page.goto(f"{srv.base_url}/ui/")
    await settled(page)
    await page.evaluate("() => document.querySelector('main').append(document.createElement('input'))")
    with pytest.raises(AssertionError, match="'label'"):
        await checked(page, "00-check-finds-an-unlabelled-field")


# ---- auth on: a pasted key, confined to its scope --------------------------------------------------------------


async def paste(page: Any, token: str) -> None:
    await page.get_by_label("API key", exact=True).fill(token)
    await page.get_by_role("button", name="Use key").click()
    await settled(page)  # the home page, drawn again for the new key


async def test_auth_on_a_pasted_key_sees_only_its_scope(page: Any, auth_server: tuple[ServerProcess, World]) -> None:
    srv, _ = auth_server
    await page.goto(f"{srv.base_url}/ui/")
    await settled(page)
    banner = await page.locator("#banner").inner_text()
    assert "Reasoning is off" in banner and "HONCHO_LLM__PROVIDER" in banner
    assert "Not allowed (401)" in await page.get_by_role("alert").first.inner_text()  # no key, auth on
    await checked(page, "10-auth-no-key")

    await paste(page, key(w="team"))
    assert "workspace team" in await page.locator("#key-status").inner_text()
    await page.get_by_role("link", name="Workspace team").last.click()
    await settled(page)
    assert await page.get_by_role("table", name="Peers").get_by_role("link", name="alice").count() == 1
    await page.goto(f"{srv.base_url}/ui/#/w/other")  # someone else's workspace
    await settled(page)
    assert "Not allowed (401)" in await page.get_by_role("region", name="Peers").inner_text()
    await page.goto(f"{srv.base_url}/ui/#/w/team/queue")
    await settled(page)
    assert await page.get_by_role("table", name="Work units").count() == 1
    assert "Not allowed (401)" in await page.get_by_role("region", name="Failed jobs").inner_text()  # admin only
    await checked(page, "11-auth-workspace-key")

    await paste(page, key(w="team", p="alice"))
    await page.goto(f"{srv.base_url}/ui/#/w/team/peer/alice")
    await settled(page)
    assert await page.get_by_role("region", name="Peer card").locator("li").all_inner_texts() == CARD  # its own
    assert await page.get_by_role("region", name="Representation").get_by_role("alert").count() == 0
    assert "Not allowed (401)" in await page.get_by_role("region", name="Conclusions by level").inner_text()
    await page.goto(f"{srv.base_url}/ui/#/w/team/peer/bob")
    await settled(page)
    assert "Not allowed (401)" in await page.get_by_role("region", name="Peer card").inner_text()
    await checked(page, "12-auth-peer-key")

    await paste(page, key(ad=True))
    await page.goto(f"{srv.base_url}/ui/#/w/team/queue")
    await settled(page)
    assert JOB_ERROR in await page.get_by_role("table", name="Failed jobs").inner_text()
    await page.get_by_role("button", name="Redrive failed jobs").click()
    await page.get_by_text("Requeued 1 job.").wait_for()
    assert await page.get_by_text("No failed jobs.").count() == 1
    await checked(page, "13-redrive")
