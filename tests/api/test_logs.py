"""Logs (issue 13 item 4; docs/metrics-and-logs.md): the optional access log (`server.access_log`, one line per
request) and JSON lines (`server.log_format = "json"`) for the server's loggers and uvicorn's, through a real uvicorn
server configured as `serve` configures it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from api_helpers import ws_url

from honcho_server import logs
from honcho_server.api.app import create_app
from honcho_server.config import ServerSettings
from honcho_server.services.deps import Deps
from support import api_client


async def test_the_access_log_has_one_line_per_request_when_on(deps: Deps, caplog: pytest.LogCaptureFixture) -> None:
    settings = deps.settings.model_copy(deep=True)
    settings.server.access_log = True
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    async with api_client(Deps(db=deps.db, settings=settings)) as client:
        assert (await client.get(ws_url("no-such-workspace", "usage"))).status_code == 404
    lines = [r for r in caplog.records if r.name == logs.ACCESS_LOGGER]
    assert len(lines) == 1
    line = lines[0]
    path = "/v3/workspaces/no-such-workspace/usage"  # the raw path (the metrics have the route's template)
    assert (line.method, line.path, line.status, line.client) == ("GET", path, 404, "127.0.0.1:123")
    assert line.levelno == logging.INFO and line.duration_ms >= 0
    assert line.getMessage() == f"GET {path} 404 {line.duration_ms:.1f}ms 127.0.0.1:123"

    caplog.clear()
    async with api_client(deps) as client:  # off (the default): nothing is logged
        assert not deps.settings.server.access_log
        await client.get(ws_url("no-such-workspace", "usage"))
    assert [r for r in caplog.records if r.name == logs.ACCESS_LOGGER] == []


def test_json_lines_carry_extra_fields_and_exceptions() -> None:
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("honcho_server.worker", logging.WARNING, __file__, 1, "job %s failed", (7,), None)
    record.kind = "embed"
    record.color_message = "\x1b[1mjob\x1b[0m"  # uvicorn's coloured copy is left out
    entry = json.loads(formatter.format(record))
    assert entry["level"] == "WARNING" and entry["logger"] == "honcho_server.worker"
    assert entry["message"] == "job 7 failed" and entry["kind"] == "embed" and "color_message" not in entry
    assert entry["time"].endswith("+00:00")
    try:
        raise ValueError("boom \u00e9")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", None, sys.exc_info())
    entry = json.loads(formatter.format(failed))
    assert "ValueError: boom \u00e9" in entry["exception"] and "\n" not in formatter.format(failed)


def test_log_settings_are_validated() -> None:
    assert ServerSettings().log_format == "text" and ServerSettings().access_log is False
    with pytest.raises(ValueError):
        ServerSettings(log_format="xml")
    assert logs.level_number("trace") == 5 and logs.level_number("warning") == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level"):
        logs.level_number("verbose")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Undo what a `dictConfig` does to the loggers it names (pytest's capture lives on the root logger)."""
    loggers = [logging.getLogger(name) for name in ("", *logs.UVICORN_LOGGERS, logs.ACCESS_LOGGER)]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        for lg, handlers, level, propagate, disabled in saved:
            lg.handlers, lg.propagate, lg.disabled = handlers, propagate, disabled
            lg.setLevel(level)


async def test_uvicorn_with_our_log_config_writes_json_lines_for_every_logger(
    deps: Deps, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `serve` does (`log_config=logs.config(...)`), in process: a real uvicorn server on a socket."""
    settings = deps.settings.model_copy(deep=True)
    settings.server.log_format, settings.server.access_log = "json", True
    app = create_app(settings, deps=Deps(db=deps.db, settings=settings))
    port = _free_port()
    capsys.readouterr()
    with _logging_restored():
        config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", access_log=False,
                                log_level=settings.server.log_level, log_config=logs.config(settings.server))
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            for _ in range(200):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/health")).status_code == 200
                logging.getLogger("honcho_server.worker").warning("a record of our own, %s", "formatted")
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 30)
    text = capsys.readouterr().err
    records = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    loggers = {r["logger"] for r in records}
    assert "uvicorn.error" in loggers, text  # "Started server process", "Uvicorn running on"...
    ours = [r for r in records if r["logger"] == "honcho_server.worker"]
    assert ours and ours[0]["message"] == "a record of our own, formatted" and ours[0]["level"] == "WARNING"
    access = [r for r in records if r["logger"] == logs.ACCESS_LOGGER]
    assert len(access) == 1, text
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == ("GET", "/health", 200)
    assert access[0]["client"].startswith("127.0.0.1:") and access[0]["duration_ms"] >= 0
    assert "uvicorn.access" not in loggers  # uvicorn's own access log stays off
