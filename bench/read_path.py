#!/usr/bin/env python3
"""Issue 15's table in one command: the shared workload driver against `honcho-server serve` in each configuration.

    .venv/bin/python bench/read_path.py                       # all three configurations, default sizes
    .venv/bin/python bench/read_path.py --configs sqlite --long-session 5000
    .venv/bin/python bench/read_path.py --configs sqlite,pg-local --profile   # + py-spy profiles of the reads

Configurations (one after the other, each on a fresh database and a fresh server process, embedded worker on):
  sqlite     SQLite, default settings (local embedder)
  pg-local   PostgreSQL 16 + pgvector (pgserver wheel, started here and stopped at exit), local embedder
  pg-remote  PostgreSQL + the OpenAI-compatible embedder (text-embedding-3-small, 1536 dims) pointed at a loopback
             fake (../shared/bench/fake_openai.py) that answers every POST after --embed-latency-ms (default 20 ms)

Per configuration: `honcho-server migrate`, then --cold-starts timed starts of `serve` (spawn to the first 200 from
/health; the median is reported), the last of which stays up for `workload.py --server-pid <api> --server-pid
<postmaster> [--server-pid <fake>]` at default sizes (x --scale). Prints the issue's table (reference figures quoted
from issue 15, not re-run; ours; ratio ours/reference; goal met or missed), the machine load and other processes'
CPU, and saves every raw JSON under bench/results/. Options: --long-session N (session search in one session of N
messages, after its embeddings are done), --profile (py-spy on the API during session search, context and messages
list: summaries in bench/results/profile-*.txt, collapsed stacks beside them). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "bench" / "results"
REF_LABEL = "reference (from issue 15, not re-run)"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    goal: float | None  # None: the issue sets no goal for this figure
    ref_on: float | None  # reference Honcho 3.0.12, embeddings on (issue 15's table)
    ref_off: float | None  # the same, embeddings off


METRICS = [
    Metric("session_search_p50", "session search p50 ms", False, 5, 27.3, 12.5),
    Metric("session_search_p95", "session search p95 ms", False, 10, 33.5, 16.3),
    Metric("workspace_search_p50", "workspace search p50 ms", False, 10, 134, 121),
    Metric("workspace_search_p95", "workspace search p95 ms", False, 20, 178, 160),
    Metric("context_p50", "context (200 msgs, no limit) p50 ms", False, 3, 13.4, 11.9),
    Metric("messages_list_p50", "messages list p50 ms", False, 2, 7.29, 7.39),
    Metric("single_create_p50", "single create p50 ms", False, 4, 31.8, 14.4),
    Metric("single_create_p95", "single create p95 ms", False, None, 96.0, 18.5),
    Metric("bulk_ingest", "bulk ingest msg/s", True, 10_000, 123, 1_651),
    Metric("writers_16", "16 writers req/s", True, 400, 36.4, 78.0),
    Metric("rss_idle", "API RSS idle MB", False, 120, 218, 217),
    Metric("rss_after", "API RSS after MB", False, 200, 336, 227),
    Metric("cold_start", "cold start to /health s", False, 1.0, 1.98, 1.86),
    Metric("long_session_p50", "session search p50 ms, one session of N msgs", False, 10, None, None),
    Metric("long_session_p95", "session search p95 ms, one session of N msgs", False, None, None, None),
]


@dataclass(frozen=True)
class Config:
    name: str
    title: str
    backend: str  # sqlite | postgres
    embedder: str  # local | remote


CONFIGS = {
    "sqlite": Config("sqlite", "ours SQLite default (local)", "sqlite", "local"),
    "pg-local": Config("pg-local", "ours PG + local", "postgres", "local"),
    "pg-remote": Config("pg-remote", "ours PG + remote 1536 d", "postgres", "remote"),
}


# ------------------------------------------------------------------------------------------------ pure parts
def _dig(node: Any, *path: str) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def figures(result: dict[str, Any], api_pid: int | None = None, cold_start_s: float | None = None,
            long_session: dict[str, Any] | None = None) -> dict[str, float | None]:
    """The table's figures from one workload.py JSON summary (missing phases give None)."""
    ph = result.get("phases", {})
    pid = str(api_pid) if api_pid is not None else None

    def rss(which: str) -> float | None:
        node = _dig(result, which, "rss")
        return node.get(pid) if isinstance(node, dict) and pid else None

    return {
        "session_search_p50": _dig(ph, "session_search", "latency_ms", "p50"),
        "session_search_p95": _dig(ph, "session_search", "latency_ms", "p95"),
        "workspace_search_p50": _dig(ph, "workspace_search", "latency_ms", "p50"),
        "workspace_search_p95": _dig(ph, "workspace_search", "latency_ms", "p95"),
        "context_p50": _dig(ph, "context_full", "latency_ms", "p50"),
        "messages_list_p50": _dig(ph, "messages_list", "latency_ms", "p50"),
        "single_create_p50": _dig(ph, "single_create", "latency_ms", "p50"),
        "single_create_p95": _dig(ph, "single_create", "latency_ms", "p95"),
        "bulk_ingest": _dig(ph, "bulk_ingest", "messages_per_s"),
        "writers_16": _dig(ph, "concurrent_create", "throughput_rps"),
        "rss_idle": rss("server_rss_mb_before"),
        "rss_after": rss("server_rss_mb_after"),
        "cold_start": cold_start_s,
        "long_session_p50": _dig(long_session, "phases", "session_search", "latency_ms", "p50"),
        "long_session_p95": _dig(long_session, "phases", "session_search", "latency_ms", "p95"),
    }


def ratio(ours: float | None, ref: float | None) -> float | None:
    """ours / reference (below 1 is better for times and sizes, above 1 for throughputs)."""
    if ours is None or not ref:
        return None
    return ours / ref


def goal_met(metric: Metric, value: float | None) -> bool | None:
    if value is None or metric.goal is None:
        return None
    return value >= metric.goal if metric.higher_is_better else value <= metric.goal


def fmt_number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_goal(metric: Metric) -> str:
    if metric.goal is None:
        return "—"
    return ("≥ " if metric.higher_is_better else "≤ ") + f"{metric.goal:,g}"


def cell(metric: Metric, value: float | None) -> str:
    """`value (ratiox ref) met|missed` for one configuration."""
    if value is None:
        return "—"
    r = ratio(value, metric.ref_on)
    parts = [fmt_number(value)]
    if r is not None:
        parts.append(f"({r:.2f}x)")
    met = goal_met(metric, value)
    if met is not None:
        parts.append("met" if met else "**missed**")
    return " ".join(parts)


def render_table(columns: dict[str, dict[str, float | None]], long_session_n: int | None = None) -> str:
    """Markdown table: one row per metric; the reference's two columns, then ours per configuration."""
    head = ["metric", "goal", f"{REF_LABEL}: embeddings on", "reference: embeddings off", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in METRICS:
        values = [col.get(m.key) for col in columns.values()]
        if all(v is None for v in values):
            continue  # not measured in this run (the long session unless asked; the workload with --no-workload)
        label = m.label.replace("N msgs", f"{long_session_n:,} msgs") if long_session_n else m.label
        lines.append("| " + " | ".join([label, fmt_goal(m), fmt_number(m.ref_on), fmt_number(m.ref_off),
                                        *(cell(m, v) for v in values)]) + " |")
    lines.append("")
    lines.append("Our cells: value (ratio ours / reference with embeddings on: below 1 is better for times and sizes, "
                 "above 1 for rates) and whether the issue's goal is met.")
    return "\n".join(lines)


def frame_package(frame: str) -> str:
    """`func (sqlalchemy/engine/base.py:12)` -> `sqlalchemy`; py-spy prints paths from site-packages or the stdlib."""
    path = frame.rpartition(" (")[2].rstrip(")")
    head = path.split("/", 1)[0] if "/" in path else path.rpartition(":")[0].removesuffix(".py")
    return head or "?"


def summarize_folded(lines: list[str], rate: int = 1000, requests: int = 0, top: int = 20) -> str:
    """Where the API's CPU went, from py-spy's collapsed stacks (`a;b;c N`): by package (own code of each frame),
    our functions (honcho_server, including what they call) and the top functions by own time; with `requests`, in
    milliseconds of CPU per request (samples / rate / requests)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f.strip() for f in stack.split(";") if f.strip() and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
        by_package[frame_package(frames[-1])] += n
    if not total:
        return "no samples\n"

    def share(n: int) -> str:
        ms = f"  {n / rate * 1000 / requests:6.2f} ms/req" if requests else ""
        return f"{100 * n / total:5.1f}%{ms}"

    out = [f"samples: {total}" + (f" (~{total / rate * 1000 / requests:.2f} ms sampled per request)"
                                   if requests else ""), "", "by package (each sample charged to its innermost frame):"]
    out += [f"  {share(n)}  {pkg}" for pkg, n in by_package.most_common(top)]
    ours = [(f, n) for f, n in inclusive.most_common() if "honcho_server/" in f and "honcho_server/cli/" not in f]
    out += ["", "our functions (honcho_server, with everything they call):"]
    out += [f"  {share(n)}  {frame}" for frame, n in ours[:top]]
    out += ["", f"top {top} functions by own time (innermost frame):"]
    out += [f"  {share(n)}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ processes
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(extra: dict[str, str], workdir: Path) -> dict[str, str]:
    """A clean environment (no HONCHO_* from the caller, no config file), PYTHONPATH kept for a worktree's src."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    env["HONCHO_CONFIG_FILE"] = str(workdir / "no-config.toml")
    env.update(extra)
    return env


def embedder_env(embedder: str, fake_port: int | None) -> dict[str, str]:
    if embedder == "local":
        return {}
    return {"HONCHO_EMBEDDING__PROVIDER": "openai", "HONCHO_EMBEDDING__BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "HONCHO_EMBEDDING__MODEL": "text-embedding-3-small", "HONCHO_EMBEDDING__DIMENSIONS": "1536",
            "HONCHO_EMBEDDING__API_KEY": "x"}


def honcho_server() -> str:
    return str(Path(sys.executable).parent / "honcho-server")


def health_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Server:
    """One `honcho-server serve` process; `start()` returns seconds from spawn to the first 200 from /health."""

    def __init__(self, db_url: str, env: dict[str, str], log_path: Path) -> None:
        self.db_url, self.env, self.log_path = db_url, env, log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> float:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed when we stop
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([honcho_server(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--db", self.db_url], env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        while not health_ok(self.port):
            if self.proc.poll() is not None or time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"server did not start; log {self.log_path}:\n"
                                   f"{self.log_path.read_text()[-3000:]}")
            time.sleep(0.01)
        return time.perf_counter() - t0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def fake_embedder(latency_ms: float, log_path: Path) -> Iterator[tuple[int, int]]:
    """../shared/bench/fake_openai.py on loopback: deterministic 1536-d vectors after a fixed delay per POST."""
    port = free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, str(SHARED_BENCH / "fake_openai.py"), "--port", str(port),
                                 "--dims", "1536", "--latency-ms", str(latency_ms)], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("fake_openai.py did not start") from None
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def postgres_admin_url() -> str:
    """The run's PostgreSQL (tests/pg_support.py: a pgserver with a watchdog that stops it however we exit)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pg_support

    return pg_support.start_postgres()


def fresh_database(backend: str, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / (name + '.db')}"
    admin = postgres_admin_url()
    import pg_support

    return pg_support.create_database(admin, name)


def postmaster_pid(db_url: str) -> int | None:
    host = parse_qs(urlsplit(db_url).query).get("host", [None])[0]
    try:
        return int((Path(host) / "postmaster.pid").read_text().split()[0]) if host else None
    except (OSError, ValueError, IndexError):
        return None


def run_workload(workload: Path, port: int, pids: list[int], out: Path, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(workload), "--base-url", f"http://127.0.0.1:{port}", "--out", str(out), *extra]
    for pid in pids:
        cmd += ["--server-pid", str(pid)]
    print(f"$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# ------------------------------------------------------------------------------------------------ profile
def load_workload_module(workload: Path) -> Any:
    spec = importlib.util.spec_from_file_location("workload", workload)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["workload"] = module
    spec.loader.exec_module(module)
    return module


def profile_reads(workload: Path, port: int, api_pid: int, workspace: str, sessions: int, config: str,
                  requests: int, stamp: str) -> dict[str, str]:
    """py-spy on the API while one endpoint is called `requests` times in a row; returns summary paths."""
    import random

    import httpx

    wl = load_workload_module(workload)
    r = random.Random(f"profile:{config}")
    base = f"/v3/workspaces/{workspace}/sessions"
    endpoints = {
        "session_search": lambda: ("POST", f"{base}/sess-{r.randrange(sessions):04d}/search",
                                   {"query": wl.gen_query(r), "limit": 10}, None),
        "context_full": lambda: ("GET", f"{base}/sess-{r.randrange(sessions):04d}/context", None, None),
        "messages_list": lambda: ("POST", f"{base}/sess-{r.randrange(sessions):04d}/messages/list", {},
                                  {"page": r.randint(1, 4), "size": 50}),
    }
    written = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for name, make in endpoints.items():
            for _ in range(10):  # warm
                method, path, body, params = make()
                client.request(method, path, json=body, params=params).raise_for_status()
            # Two views at once: every running thread (SQLite's worker threads, the event loop; a runnable thread
            # waiting for a core counts too), and the thread holding the GIL (Python's own CPU; SQLite's C code
            # runs without it).
            spy_bin = Path(sys.executable).parent / "py-spy"
            views = {"all running threads": [], "GIL holder only (--gil)": ["--gil"]}
            folded = {view: RESULTS / f"profile-{stamp}-{config}-{name}{'-gil' if flags else ''}.folded"
                      for view, flags in views.items()}
            spies = [subprocess.Popen([str(spy_bin) if spy_bin.exists() else "py-spy", "record", "--pid", str(api_pid),
                                       "--rate", "1000", "--format", "raw", "--nonblocking", *flags,
                                       "--output", str(folded[view])], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for view, flags in views.items()]
            time.sleep(1.5)  # py-spy attaches
            t0, cpu0 = time.perf_counter(), proc_cpu_s(api_pid)
            lat = []
            for _ in range(requests):
                method, path, body, params = make()
                t = time.perf_counter()
                client.request(method, path, json=body, params=params).raise_for_status()
                lat.append((time.perf_counter() - t) * 1000)
            wall, cpu = time.perf_counter() - t0, proc_cpu_s(api_pid) - cpu0
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            errors = [spy.communicate(timeout=60)[1].decode()[-300:] for spy in spies]
            summary = RESULTS / f"profile-{stamp}-{config}-{name}.txt"
            lat.sort()
            text = (f"{config} {name}: {requests} sequential requests in {wall:.1f} s while py-spy sampled the API "
                    f"at 1 kHz (--nonblocking). Threads blocked on I/O are not sampled, so waiting on the database "
                    f"or the client does not show; a thread that is runnable but waiting for a core does, so on a "
                    f"busy machine the sampled ms/req exceed the CPU.\n"
                    f"API CPU per request (from /proc, all threads): {1000 * cpu / requests:.2f} ms\n"
                    f"latency under the profiler: p50 {lat[len(lat) // 2]:.2f} ms, p95 "
                    f"{lat[int(len(lat) * 0.95)]:.2f} ms; load average {loadavg()}\n")
            for (view, path), err in zip(folded.items(), errors, strict=True):
                text += f"\n======== {view}\n"
                text += (summarize_folded(path.read_text().splitlines(), 1000, requests) if path.exists()
                         else f"py-spy wrote nothing: {err}\n")
            summary.write_text(text)
            written[name] = str(summary.relative_to(ROOT))
            print(f"profile: {summary.relative_to(ROOT)}", file=sys.stderr)
    return written


# ------------------------------------------------------------------------------------------------ one config
def run_config(cfg: Config, args: argparse.Namespace, tmp: Path, stamp: str) -> dict[str, Any]:
    print(f"== {cfg.name}: {cfg.title} (load {loadavg()})", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"config": cfg.name, "title": cfg.title, "loadavg_start": loadavg()}
    db_url = fresh_database(cfg.backend, tmp, f"readpath_{cfg.name.replace('-', '_')}")
    with contextlib.ExitStack() as stack:
        extra_pids: list[int] = []
        fake_port = None
        if cfg.embedder == "remote":
            fake_port, fake_pid = stack.enter_context(fake_embedder(args.embed_latency_ms, tmp / "fake.log"))
            extra_pids.append(fake_pid)
            out["fake_embedder_latency_ms"] = args.embed_latency_ms
        env = server_env(embedder_env(cfg.embedder, fake_port), tmp)
        subprocess.run([honcho_server(), "migrate", "--db", db_url], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pm = postmaster_pid(db_url) if cfg.backend == "postgres" else None
        if pm:
            extra_pids.append(pm)
        starts = []
        for i in range(args.cold_starts):
            server = Server(db_url, env, tmp / f"{cfg.name}.log")
            starts.append(server.start())
            if i < args.cold_starts - 1:
                server.stop()
        out["cold_starts_s"] = [round(s, 3) for s in starts]
        stack.callback(server.stop)
        assert server.proc is not None
        api_pid = server.proc.pid
        out["api_pid"] = api_pid
        workspace = f"readpath-{cfg.name}-{int(time.time())}"
        sizes = ["--scale", str(args.scale), "--label", f"honcho-server/{cfg.name}"]
        if not args.no_workload:
            out["workload"] = run_workload(args.workload, server.port, [api_pid, *extra_pids],
                                           tmp / f"{cfg.name}.json", [*sizes, "--workspace", workspace])
        if args.long_session:
            out["long_session"] = run_long_session(args, server.port, [api_pid, *extra_pids], db_url, tmp, cfg)
        if args.profile and not args.no_workload:
            sessions = out["workload"]["sizes"]["sessions"]
            out["profiles"] = profile_reads(args.workload, server.port, api_pid, workspace, sessions, cfg.name,
                                            args.profile_requests, stamp)
    out["loadavg_end"] = loadavg()
    return out


def run_long_session(args: argparse.Namespace, port: int, pids: list[int], db_url: str, tmp: Path,
                     cfg: Config) -> dict[str, Any]:
    """One session of N messages: ingest, wait until every message has its vector, then the search phase."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search import settle, wait_embedded  # bench/search.py: polls the jobs table; VACUUM ANALYZE on PG

    workspace = f"readpath-long-{cfg.name}-{int(time.time())}"
    common = ["--workspace", workspace, "--sessions", "1", "--messages-per-session", str(args.long_session),
              "--label", f"honcho-server/{cfg.name}/long-session"]
    run_workload(args.workload, port, pids, tmp / f"{cfg.name}-long-ingest.json", [*common, "--phases", "ingest"])
    lag = wait_embedded(db_url)
    settle(db_url)
    result = run_workload(args.workload, port, pids, tmp / f"{cfg.name}-long.json",
                          [*common, "--phases", "search", "--settle", "0"])
    result["embedded_after_ingest_s"] = round(lag, 2)
    result["messages_in_session"] = args.long_session
    return result


def other_cpu(result: dict[str, Any] | None) -> str:
    """CPU seconds other processes used during the read phases (the noise on a shared machine)."""
    if not result:
        return "—"
    cpu = result.get("cpu", {})
    other = sum((cpu.get(p) or {}).get("other_cpu_s", 0) for p in ("context", "search", "messages_list"))
    wall = sum((cpu.get(p) or {}).get("wall_s", 0) for p in ("context", "search", "messages_list"))
    return f"{other:.1f} s over {wall:.1f} s of read phases"


def report(runs: dict[str, dict[str, Any]], args: argparse.Namespace, load_start: str) -> str:
    columns = {}
    for name, run in runs.items():
        cold = statistics.median(run["cold_starts_s"]) if run.get("cold_starts_s") else None
        columns[CONFIGS[name].title] = figures(run.get("workload") or {}, run.get("api_pid"), cold,
                                               run.get("long_session"))
    lines = [render_table(columns, args.long_session), ""]
    lines.append(f"Machine: {os.cpu_count()} cores, shared; load average (1/5/15 min) at start {load_start}, "
                 f"at end {loadavg()}.")
    for name, run in runs.items():
        w = run.get("workload")
        errors = w.get("total_errors") if w else None
        lines.append(f"- {CONFIGS[name].title}: load {run['loadavg_start']} → {run['loadavg_end']}; other processes' "
                     f"CPU {other_cpu(w)}; cold starts {run['cold_starts_s']} s; driver errors {errors}"
                     + (f"; fake embedder {run['fake_embedder_latency_ms']} ms per request"
                        if "fake_embedder_latency_ms" in run else "")
                     + (f"; long session embedded {run['long_session']['embedded_after_ingest_s']} s after ingest"
                        if run.get("long_session") else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list from {','.join(CONFIGS)}")
    ap.add_argument("--scale", type=float, default=1.0, help="workload.py --scale")
    ap.add_argument("--workload", type=Path, default=SHARED_BENCH / "workload.py")
    ap.add_argument("--cold-starts", type=int, default=3, help="timed starts per configuration (median reported)")
    ap.add_argument("--embed-latency-ms", type=float, default=20.0, help="the remote fake's delay per request")
    ap.add_argument("--long-session", type=int, default=0, metavar="N",
                    help="also measure session search in one session of N messages")
    ap.add_argument("--no-workload", action="store_true", help="skip the default workload (e.g. long session only)")
    ap.add_argument("--profile", action="store_true", help="py-spy the API during session search, context, list")
    ap.add_argument("--profile-requests", type=int, default=300)
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results/read_path-*.json")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    stamp = time.strftime("%Y%m%d-%H%M")
    load_start = loadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="honcho-readpath-") as tmp_name:
        for name in names:
            runs[name] = run_config(CONFIGS[name], args, Path(tmp_name), stamp)
    text = report(runs, args, load_start)
    print(text)
    if not args.no_save:
        saved = RESULTS / f"read_path-{stamp}.json"
        saved.write_text(json.dumps({"argv": sys.argv[1:], "runs": runs}, separators=(",", ":")) + "\n")
        (RESULTS / f"read_path-{stamp}.md").write_text(text + "\n")
        print(f"\nsaved {saved.relative_to(ROOT)} and its .md", file=sys.stderr)


if __name__ == "__main__":
    main()
