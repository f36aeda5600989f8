"""Throughput of the bundled local embedder (default wordllama) over realistic message texts.

    .venv/bin/python bench/embedder_speed.py [--texts 20000] [--model wordllama] [--repeat 3]

Texts are the shared workload driver's messages (10-60 words of conversational English, fixed seed), prefixed
with the sender's name exactly as the embed job does ("user-003: ..."). Measures, through `LocalEmbedder.embed`
(the dedicated model thread the server uses, one thread):

- one job's batch: 100 texts per call, the size of one ingest request's embed job;
- a large batch: all texts in one call (split into the model's chunks, as re-embedding does);
- one query: a single short text, the search path's cost.

Prints texts/s (best of --repeat runs) and the machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import statistics
import sys
import time
from pathlib import Path

from honcho_server.embeddings.local import LocalEmbedder, resolve_local_model

WORKLOAD = Path(__file__).resolve().parents[2] / "shared" / "bench" / "workload.py"


def workload_module():
    spec = importlib.util.spec_from_file_location("workload", WORKLOAD)
    module = importlib.util.module_from_spec(spec)
    sys.modules["workload"] = module
    spec.loader.exec_module(module)
    return module


def message_texts(n: int) -> tuple[list[str], list[str]]:
    wl = workload_module()
    r = random.Random("embedder-speed")
    texts = [f"user-{i % 50:03d}: " + wl.gen_message(r, "user" if i % 2 == 0 else "assistant") for i in range(n)]
    queries = [wl.gen_query(r) for _ in range(200)]
    return texts, queries


async def best_rate(embedder: LocalEmbedder, texts: list[str], per_call: int, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for start in range(0, len(texts), per_call):
            await embedder.embed(texts[start:start + per_call], "document")
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


async def run(args: argparse.Namespace) -> None:
    texts, queries = message_texts(args.texts)
    embedder = LocalEmbedder(resolve_local_model(args.model))
    t0 = time.perf_counter()
    await embedder.warm_up()
    print(f"model {embedder.model_id} ({embedder.dimensions} dims) loaded in {time.perf_counter() - t0:.2f} s")
    words = statistics.fmean(len(t.split()) for t in texts)
    print(f"{len(texts):,} texts, {words:.1f} words on average; load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} cores")
    job = await best_rate(embedder, texts, 100, args.repeat)
    big = await best_rate(embedder, texts, len(texts), args.repeat)
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        await embedder.embed([q], "query")
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    print(f"batches of 100 (one embed job): {job:,.0f} texts/s")
    print(f"one batch of {len(texts):,}: {big:,.0f} texts/s")
    print(f"one query: p50 {latencies[len(latencies) // 2]:.3f} ms, p95 {latencies[int(len(latencies) * 0.95)]:.3f} ms")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    await embedder.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
