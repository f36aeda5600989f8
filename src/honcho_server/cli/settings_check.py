"""Settings as the command line loads them: config.toml and HONCHO_* variables checked for unknown names (with the
closest valid one), and every mistake explained in one line that names where the bad value came from."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import NoDecode, SettingsError

from honcho_server.config import LEGACY_ENV, Settings, config_file, load_settings

PREFIX = "HONCHO_"
# HONCHO_* variables that are not settings: the config file's path, what `serve --processes` passes to its
# processes (api/app.py's RUN_WORKER_ENV and WEAK_SECRET_ENV, spelled out: importing the app takes seconds), the
# token vocabulary's path, and what the official SDK clients (Python and TypeScript) read, so a shell set up for a
# client can still start the server.
NOT_SETTINGS = frozenset({"HONCHO_CONFIG_FILE", "HONCHO_SERVE_RUN_WORKER", "HONCHO_SERVE_ALLOW_WEAK_SECRET",
                          "HONCHO_TOKENIZER_FILE", "HONCHO_API_KEY", "HONCHO_URL", "HONCHO_WORKSPACE_ID"})
# Families of the test suite and benchmarks (HONCHO_TEST_BACKENDS, HONCHO_TS_URL, ...); no settings section is
# named like these, so no typo of a setting hides behind them.
NOT_SETTINGS_PREFIXES = ("HONCHO_TEST_", "HONCHO_SDK_", "HONCHO_TS_", "HONCHO_FUZZ_", "HONCHO_BENCH_")
SECRET_PARTS = ("secret", "key", "password")


class ConfigError(Exception):
    """A configuration mistake, said in one line with its fix."""


def load(cli: Mapping[tuple[str, ...], tuple[str, Any]], environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment and config.toml, with the command line's values on top. `cli` maps a
    (section, key) to (option name, value); None values are left out. Raises ConfigError."""
    environ = os.environ if environ is None else environ
    path = config_file()
    toml_data = _read_toml(path)
    problems = [*unknown_toml_keys(toml_data, path), *unknown_variables(environ)]
    if problems:
        raise ConfigError("; ".join(problems))
    overrides: dict[str, dict[str, Any]] = {}
    for (section, key), (_, value) in cli.items():
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        given = {loc: option for loc, (option, value) in cli.items() if value is not None}
        raise ConfigError(explain_invalid(exc, given, environ, path, toml_data)) from exc
    except SettingsError as exc:
        raise ConfigError(_explain_undecodable(exc, environ)) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:  # its message ends with "(at line L, column C)"
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (also through `X | None`), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next((m for a in typing.get_args(annotation) if (m := _model_of(a)) is not None), None)
    return None


def _fields(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path, field
        if (sub := _model_of(field.annotation)) is not None:
            yield from _fields(sub, path)


def setting_paths() -> list[tuple[str, ...]]:
    """Every section and key, as paths: ('server',), ('server', 'port'), ('llm', 'deriver', 'model')..."""
    return [path for path, _ in _fields()]


def _json_valued() -> set[str]:
    """The variables whose value pydantic-settings decodes as JSON: sections, and lists or tables not marked
    NoDecode."""
    return {env_name(path) for path, field in _fields()
            if _model_of(field.annotation) is not None or (
                typing.get_origin(field.annotation) in (list, dict) and NoDecode not in field.metadata)}


def env_name(path: tuple[str, ...]) -> str:
    return PREFIX + "__".join(path).upper()


def _closest(wrong: str, valid: dict[str, tuple[str, ...]], spell: Any) -> str:
    """' (did you mean X?)' for the likeliest intended name: same last part in another section, else the most
    similar spelling; '' when nothing is close."""
    leaf = wrong.rsplit("__" if "__" in wrong else ".", 1)[-1].removeprefix(PREFIX).lower()
    same_leaf = [name for name, path in valid.items() if path[-1] == leaf]
    match = same_leaf[:1] or difflib.get_close_matches(wrong, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {spell(valid[match[0]])}?)" if match else ""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One message per HONCHO_* variable that names no setting."""
    valid = {env_name(path): path for path in setting_paths()}
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if (not upper.startswith(PREFIX) or upper in valid or upper in NOT_SETTINGS
                or upper.startswith(NOT_SETTINGS_PREFIXES)):
            continue
        found.append(f"unknown setting {name}{_closest(upper, valid, env_name)}")
    return found


def unknown_toml_keys(data: Mapping[str, Any], path: Path) -> list[str]:
    """One message per key of config.toml that names no setting."""
    valid = {".".join(p): p for p in setting_paths()}
    found = []

    def walk(table: Mapping[str, Any], model: type[BaseModel], prefix: tuple[str, ...]) -> None:
        for key, value in table.items():
            dotted = ".".join((*prefix, key))
            if key not in model.model_fields:
                found.append(f"unknown key {dotted} in {path}{_closest(dotted, valid, '.'.join)}")
            elif isinstance(value, dict) and (sub := _model_of(model.model_fields[key].annotation)) is not None:
                walk(value, sub, (*prefix, key))

    walk(data, Settings, ())
    return found


def explain_invalid(exc: ValidationError, given: Mapping[tuple[str, ...], str], environ: Mapping[str, str],
                    path: Path, toml_data: Mapping[str, Any]) -> str:
    """One line for all of a validation error's complaints, each naming its source and (unless secret) value."""
    parts = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        shown = _shown(loc, error.get("input"))
        parts.append(f"{_source(loc, given, environ, path, toml_data)}{'=' + shown if shown else ''}: {message}")
    return "invalid setting: " + "; ".join(parts)


def _source(loc: tuple[str, ...], given: Mapping[tuple[str, ...], str], environ: Mapping[str, str],
            path: Path, toml_data: Mapping[str, Any]) -> str:
    """Where the value at `loc` came from: a command-line option, a variable (the key's own, or a section's
    JSON value), a reference-server variable, config.toml, or (a check of a whole section) just its name."""
    if loc in given:
        return given[loc]
    upper_env = {name.upper(): name for name in environ}
    for size in range(len(loc), 0, -1):
        if (name := upper_env.get(env_name(loc[:size]))) is not None:
            return name
    legacy = next((name for name, target in LEGACY_ENV.items() if target == loc[:2] and name in environ), None)
    if legacy:
        return legacy
    table: Any = toml_data
    for part in loc:
        table = table.get(part) if isinstance(table, dict) else None
    return f"{'.'.join(loc)} (in {path})" if table is not None else ".".join(loc)


def _shown(loc: tuple[str, ...], value: Any) -> str:
    """A bad value as it may be printed: scalars only, secrets hidden, URLs without their password."""
    if not isinstance(value, (str, int, float, bool)):
        return ""
    if any(part in name for name in loc for part in SECRET_PARTS):
        return "***"
    return repr(mask_url(value) if isinstance(value, str) else value)


def mask_url(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def _explain_undecodable(exc: SettingsError, environ: Mapping[str, str]) -> str:
    """pydantic-settings names only the section when a variable's JSON does not parse: find the variable."""
    section = re.search(r'field "([^"]+)"', str(exc))
    if section:
        start, decoded = env_name((section.group(1),)), _json_valued()
        for name, value in sorted(environ.items()):
            if name.upper() in decoded and (name.upper() == start or name.upper().startswith(start + "__")):
                try:
                    json.loads(value)
                except ValueError:
                    return (f"{name}: {_shown(tuple(name.lower().split('__')), value) or 'its value'} is not JSON; "
                            "a setting that holds a section or a list takes a JSON value")
    return f"invalid setting: {exc}"
