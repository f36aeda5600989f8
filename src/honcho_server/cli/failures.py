"""Every command's failure as one line on stderr, with its fix, and exit status 2: no traceback unless the global
`--debug` asks for one. Credentials met on the way (the database password, keys) are never printed."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from typer.core import TyperGroup

from honcho_server.cli.settings_check import ConfigError, mask_url
from honcho_server.store.dialect.base import DriverMissing
from honcho_server.store.engine import is_embedded

EXIT_FAILED = 2
# Typer's own ends: an exit status, an abort, and usage errors (its vendored click's exceptions are TyperExceptions)
_PASSED_THROUGH = (typer.Exit, typer.Abort, typer.TyperException)


class Context:
    """What a failure message may need: the database in use and the secrets to keep out of it."""

    database_url: str | None = None
    secrets: list[str] = []

    @classmethod
    def note(cls, settings: Any) -> None:
        from sqlalchemy.engine import make_url

        cls.database_url = settings.db.url
        found = [make_url(settings.db.url).password]
        for secret in (settings.auth.jwt_secret, settings.llm.api_key, settings.embedding.api_key):
            found.append(secret.get_secret_value() if secret is not None else None)
        cls.secrets = [s for s in found if s and len(s) >= 3]


def scrub(text: str) -> str:
    """`text` without the secrets of the settings in use."""
    for secret in Context.secrets:
        text = text.replace(secret, "***")
    return text


def shown_database(url: str) -> str:
    """The database URL as it may be printed: password masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    """The exception's own first line, from the driver's error when SQLAlchemy wraps one."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0].strip()


def _is_database_fault(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, (DBAPIError, InterfaceError, OperationalError, OSError, asyncio.TimeoutError, TimeoutError))


def explain(exc: BaseException) -> str:
    """One line for a failure, with what to do about it."""
    if isinstance(exc, ConfigError):  # values shown in it are masked already
        return f"Configuration: {exc}"
    if isinstance(exc, DriverMissing):
        return f"{exc}."
    reason = mask_url(_first_line(exc))
    if _is_database_fault(exc) and Context.database_url is not None:
        where = shown_database(Context.database_url)
        if is_embedded(Context.database_url):
            return (f"Cannot open the database {where}: {reason}. Check the path and its permissions "
                    "(--db or HONCHO_DB__URL).")
        return (f"Cannot reach the database {where}: {reason}. Check that PostgreSQL runs there and that the URL's "
                "host, port, user, password and database name are right (--db or HONCHO_DB__URL).")
    return f"{type(exc).__name__}: {reason} (this looks like a bug; `honcho-server --debug ...` shows the traceback)"


class OneLineFailures(TyperGroup):
    """The command group: a command's exception becomes one line and exit status 2, unless --debug."""

    def invoke(self, ctx: Any) -> Any:  # a typer Context (its vendored click's class is private)
        try:
            return super().invoke(ctx)
        except _PASSED_THROUGH:
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            typer.echo(scrub(explain(exc)), err=True)
            raise typer.Exit(EXIT_FAILED) from None
