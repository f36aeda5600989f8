"""What uvloop buys the API over asyncio's own event loop: the same `serve` command started twice on a fresh SQLite
database, once as installed and once with uvloop hidden (uvicorn's `loop="auto"` then falls back to asyncio), each
driven by the same client: concurrent keep-alive reads (a peer list, a message list) and message writes.

    .venv/bin/python bench/event_loop.py [--requests 3000] [--clients 8] [--rounds 2]

Prints requests/s and latency percentiles per loop, side by side, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

HIDE_UVLOOP = "import sys; sys.modules['uvloop'] = None; from honcho_server.cli.main import app; app()"
WITH_UVLOOP = "from honcho_server.cli.main import app; app()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(code: str, folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port), "--db",
                             f"sqlite:///{folder}/bench.db"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


async def drive(base: str, requests: int, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        w = "/v3/workspaces/bench"
        await client.post("/v3/workspaces", json={"id": "bench"})
        await client.post(f"{w}/sessions", json={"id": "s", "peers": {"alice": {}}})
        calls = [("POST", f"{w}/peers/list", {}),
                 ("POST", f"{w}/sessions/s/messages/list", {}),
                 ("POST", f"{w}/sessions/s/messages", {"messages": [{"peer_id": "alice", "content": "hello there"}]})]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(requests):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                method, path, body = calls[i % len(calls)]
                t = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t)
                response.raise_for_status()

        start_time = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return requests / (time.perf_counter() - start_time), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, list[float]]]] = {"uvloop": [], "asyncio": []}
    for _ in range(args.rounds):
        for name, code in (("uvloop", WITH_UVLOOP), ("asyncio", HIDE_UVLOOP)):
            with tempfile.TemporaryDirectory() as folder:
                proc, base = start(code, folder)
                try:
                    asyncio.run(drive(base, 300, args.clients))  # warm-up
                    results[name].append(asyncio.run(drive(base, args.requests, args.clients)))
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, {args.requests} requests x {args.rounds} "
          f"rounds, {args.clients} clients (1/3 writes)")
    best = {}
    for name, runs in results.items():
        rate = max(r for r, _ in runs)
        lat = sorted(x for _, ls in runs for x in ls)
        best[name] = rate
        print(f"{name:8} {rate:8.0f} req/s  p50 {statistics.median(lat) * 1e3:6.2f} ms  "
              f"p95 {lat[int(len(lat) * 0.95)] * 1e3:6.2f} ms")
    print(f"uvloop / asyncio throughput: {best['uvloop'] / best['asyncio']:.2f}")


if __name__ == "__main__":
    main()
