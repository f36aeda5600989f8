"""Speed and footprint of the bundled local embedders (not a test; run by hand, one model per process):

    .venv/bin/python tests/embeddings/bench_local.py --model wordllama
    .venv/bin/python tests/embeddings/bench_local.py --model minilm --texts 2000

Texts: chat turns of 20-60 words from LoCoMo, topped up with 20-60-word windows of BEAM chats (both under
`$HONCHO_BENCH_DATA`, default /work/shared/data), or synthetic sentences when those files are absent. Reports
load time (import + weights + tokenizer), resident memory, and throughput through `LocalEmbedder.embed` (the
thread hop and the conversion to Python lists included), best of `--repeat` runs. CPU seconds per wall second
are printed too: well under the core count means other processes competed for the CPU during the run, and
texts per CPU-second is then the steadier figure (one core's worth of work).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import resource
import statistics
import time
from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def corpus(n: int, seed: int = 7) -> list[str]:
    root = Path(os.environ.get("HONCHO_BENCH_DATA", "/work/shared/data"))
    rng = random.Random(seed)
    texts: list[str] = []
    locomo = root / "locomo" / "locomo10.json"
    if locomo.exists():
        for sample in json.loads(locomo.read_text()):
            for turns in sample["conversation"].values():
                for turn in turns if isinstance(turns, list) else []:
                    words = turn["text"].split()
                    if 20 <= len(words) <= 60:
                        texts.append(" ".join(words))
    windows: list[str] = []
    for path in sorted(glob.glob(str(root / "beam" / "100K" / "*" / "chat.json"))):
        for batch in json.loads(Path(path).read_text()):
            for turn in batch["turns"]:
                for message in turn:
                    words, i = message["content"].split(), 0
                    while i + 20 <= len(words):
                        size = rng.randint(20, 60)
                        windows.append(" ".join(words[i : i + size]))
                        i += size
    rng.shuffle(windows)
    texts += windows[: max(0, 10_000 - len(texts))]  # the same mix whatever n, then a random n of it
    vocabulary = ("we", "went", "hiking", "last", "weekend", "and", "the", "weather", "was", "great", "my", "sister",
                  "adopted", "a", "dog", "named", "max")
    while len(texts) < max(n, 10_000):
        texts.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(20, 60))))
    rng.shuffle(texts)
    return texts[:n]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = corpus(args.texts)
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"model={args.model} texts={len(texts)} mean_words={words:.1f} load_avg={os.getloadavg()[0]:.2f}")

    base_rss = rss_mb()
    started = time.perf_counter()
    from honcho_server.embeddings.local import LocalEmbedder, resolve_local_model

    embedder = LocalEmbedder(resolve_local_model(args.model))
    await embedder.warm_up()
    print(f"load: {time.perf_counter() - started:.2f}s  rss: {base_rss:.0f} -> {rss_mb():.0f} MB")

    await embedder.embed(texts[:64])
    best = float("inf")
    for run in range(args.repeat):
        cpu, wall = cpu_seconds(), time.perf_counter()
        vectors = await embedder.embed(texts)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        best = min(best, wall)
        print(f"run {run + 1}: {len(texts) / wall:,.0f} texts/s ({wall:.2f}s), {cpu / wall:.2f} CPU-s per s, "
              f"{len(texts) / cpu:,.0f} texts per CPU-s")
    assert len(vectors) == len(texts) and len(vectors[0]) == embedder.dimensions
    print(f"best: {len(texts) / best:,.0f} texts/s  peak rss: {peak_rss_mb():.0f} MB  "
          f"load_avg={os.getloadavg()[0]:.2f}")
    await embedder.aclose()


if __name__ == "__main__":
    asyncio.run(main())
