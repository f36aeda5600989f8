"""Logging of every process: one format (`server.log_format`: text, or one JSON object per line) for the server's
own loggers and uvicorn's, at `server.log_level`, on stderr; and the access log (`server.access_log`, written by
api/http_metrics.py to the `honcho_server.access` logger).

`serve` hands `config()` to uvicorn, which applies it in each of its processes (`--processes N` included);
other commands call `setup()`.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from honcho_server.config import ServerSettings

TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
ACCESS_LOGGER = "honcho_server.access"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# Attributes every LogRecord has: whatever else a record carries was passed as `extra` and becomes a JSON key.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_DROPPED = frozenset({"color_message"})  # uvicorn's ANSI-coloured copy of the message


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the `extra` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not the stream of when logging was set up
    (a command run inside another program, such as a test runner, may find its stderr swapped and closed later)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def level_number(name: str) -> int:
    """`server.log_level` as a logging level (uvicorn's `trace` included)."""
    if name.lower() == "trace":
        return 5
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {name!r}; use critical, error, warning, info, debug or trace")
    return level


def config(server: ServerSettings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary (plain data: uvicorn pickles it into its worker processes)."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if server.log_format == "json" else {"format": TEXT_FORMAT})
    level = level_number(server.log_level)
    # uvicorn's loggers hand their records to the root handler (one format for all) instead of their own.
    loggers: dict[str, Any] = {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS}
    # The access log is written at INFO whatever the level, when it is on; off, nothing reaches the logger.
    loggers[ACCESS_LOGGER] = {"level": logging.INFO if server.access_log else logging.WARNING}
    # alembic announces its plugins at INFO each time a process reads the schema revision; what a migration
    # applied is in the start-up banner.
    loggers["alembic"] = {"level": max(level, logging.WARNING)}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": f"{__name__}.StderrHandler", "formatter": "default"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": loggers,
    }


def setup(server: ServerSettings) -> dict[str, Any]:
    """Apply `config(server)` to this process; returns it (for uvicorn's `log_config`)."""
    conf = config(server)
    logging.config.dictConfig(conf)
    return conf
