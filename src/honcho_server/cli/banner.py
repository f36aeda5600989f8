"""The start-up banner of `serve` and `worker`: what runs where, in a few lines on stderr."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from honcho_server import __version__
from honcho_server.config import Settings
from honcho_server.hosts import is_loopback
from honcho_server.store.engine import is_embedded

ENABLE_REASONING = ("set HONCHO_LLM__PROVIDER (openai, anthropic, gemini or openai-compatible) and HONCHO_LLM__MODEL, "
                    "then `honcho-server llm check`")


@dataclass(frozen=True, slots=True)
class Embedder:
    """The embedder as the schema check met it."""

    model_id: str
    dimensions: int


def database_line(url: str) -> str:
    """SQLite as its absolute file, PostgreSQL as its URL with the password masked."""
    parsed = make_url(url)
    if is_embedded(url):
        return f"SQLite {Path(parsed.database).resolve() if parsed.database else '(in memory)'}"
    return f"PostgreSQL {parsed.render_as_string(hide_password=True)}"


def reasoning_line(settings: Settings) -> str:
    if settings.llm.enabled:
        return f"on ({settings.llm.provider}, {settings.llm.model})"
    return f"off: {settings.llm.problem}" if settings.llm.problem else f"off: {ENABLE_REASONING}"


def base_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass(frozen=True, slots=True)
class Banner:
    """A headline, then one labelled line per part."""

    head: str
    parts: dict[str, str]

    def text(self) -> str:
        return "\n".join([self.head, *(f"  {label + ':':<10} {value}" for label, value in self.parts.items())])


def lines(settings: Settings, embedder: Embedder | None, *, api: bool, worker: str, processes: int = 1,
          migrated: str | None = None) -> Banner:
    """The banner: `api` for `serve` (with its URL), `worker` says where background jobs run."""
    if api:
        url = base_url(settings.server.host, settings.server.port)
        docs = settings.server.docs or ("public" if is_loopback(settings.server.host) else "token")
        docs_text = "" if docs == "off" else f" (docs {url}/docs{', with an API key' if docs == 'token' else ''})"
        count = f", {processes} processes" if processes > 1 else ""
        head = f"honcho-server {__version__}: API on {url}{docs_text}{count}"
    else:
        head = f"honcho-server {__version__}: worker, {settings.worker.concurrency} jobs at once"
    parts = {"database": database_line(settings.db.url)}
    if migrated:
        parts["schema"] = migrated
    if embedder is not None:
        parts["embedder"] = f"{embedder.model_id} ({embedder.dimensions} dimensions)"
    parts |= {"worker": worker, "reasoning": reasoning_line(settings)}
    return Banner(head, parts)


def show(settings: Settings, banner: Banner) -> None:
    """On stderr as plain lines; with JSON logs, as one log record (its parts as fields) so the stream stays JSON."""
    if settings.server.log_format == "json":
        from honcho_server import logs

        logs.setup(settings.server)
        logging.getLogger("honcho_server.startup").info(banner.head, extra=banner.parts)
        return
    typer.echo(banner.text(), err=True)
