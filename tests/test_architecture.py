"""Structural rules that keep the codebase honest: layer contracts, no import cycles, dialect isolation, lint."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "honcho_server"
BIN = Path(sys.executable).parent


def test_import_layers_hold() -> None:
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dialect_names_only_in_the_store() -> None:
    """Only store/dialect, the table/type modules and migrations may know which database is in use."""
    # config.py names the two URL schemes it accepts (input checking; nothing there behaves by dialect)
    allowed = {PACKAGE / "store" / "types.py", PACKAGE / "store" / "engine.py", PACKAGE / "config.py"}
    pattern = re.compile(r"""["'](sqlite|postgresql)["']|dialect\.name\s*==|sqlalchemy\.dialects""")
    offenders = [
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
        if "dialect" not in path.parts and "migrations" not in path.parts and path not in allowed
        and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_ruff_is_clean() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules `name` imports anywhere in its file: at the top, in functions, under TYPE_CHECKING
    (the modules it names, as import-linter counts them: a parent package's `__init__` only when named itself)."""
    found: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per dot after the first
                base = ".".join([*package[:len(package) - node.level + 1], base]).strip(".")
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of modules under `root` (a package folder) that import each other, directly or round a circle."""
    def module_name(path: Path) -> str:
        parts = path.relative_to(root.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {module_name(p): p for p in root.rglob("*.py") if "migrations" not in p.parts}
    graph = {name: _imports_of(name, path, modules) for name, path in modules.items()}
    return sorted(sorted(group) for group in _strongly_connected(graph) if len(group) > 1)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components (Tarjan, iterative): every module reachable from each other one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


# Cycles still to remove, each with its reason; a cycle that is gone must leave this list too.
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycles() -> None:
    """Dependencies between the package's modules point one way: no module imports, even lazily or only for type
    checking, a module that imports it back (directly or round a longer circle)."""
    assert import_cycles(PACKAGE) == KNOWN_CYCLES


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import X\n")
    (package / "sub" / "c.py").write_text("def f():\n    from ..a import g\n")
    (package / "d.py").write_text("import pkg.a\n")  # imports into the circle, is not part of it
    assert import_cycles(package) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]
    (package / "sub" / "c.py").write_text("import json\n")
    assert import_cycles(package) == []


def test_the_package_holds_the_product_and_its_data() -> None:
    """The wheel ships the package's modules plus the data files pyproject lists (migrations, the token
    vocabulary, the default embedder's weights and tokenizer): no benchmark command or fake model server (those
    live in bench/), no provider SDK beyond OpenAI's by default, no litellm, no Hugging Face libraries."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["honcho_server"]
    shipped = {path.relative_to(PACKAGE).as_posix() for pattern in patterns for path in PACKAGE.glob(pattern)}
    migrations = {path.relative_to(PACKAGE).as_posix() for path in (PACKAGE / "store/migrations/versions").glob("*.py")}
    assert migrations and migrations <= shipped
    data_files = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.glob("*/data/*") if path.is_file()}
    assert {"domain/data/o200k_base.tiktoken", "embeddings/data/l2_supercat_256.safetensors"} <= data_files <= shipped
    explorer = {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "ui/static").rglob("*") if p.is_file()}
    assert "ui/static/index.html" in explorer and explorer <= shipped  # the /ui pages, every file of them
    assert [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if re.search("bench|fake|loopback", p.stem)] == []
    needs = " ".join(project["project"]["dependencies"])
    assert "litellm" not in needs and "anthropic" not in needs and "google" not in needs
    assert "tokenizers" not in needs and "wordllama" not in needs and "safetensors" not in needs


def test_the_app_starts_without_importing_the_llm_engine() -> None:
    """pydantic-ai and the provider SDKs are most of the start-up time and a good part of the memory: they load
    when the first LLM run is made (services/deps.py), not when the app or the worker is built."""
    code = ("import sys; from honcho_server.api.app import create_app; from honcho_server.worker.runtime import Worker;"
            " print(sorted(m for m in ('pydantic_ai', 'openai', 'anthropic', 'google.genai') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
