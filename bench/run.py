"""Benchmarks through the server's own services, run from the repository root:

    .venv/bin/python bench/run.py retrieval --dataset locomo|beam [PATH] [--db URL] [--provider P] [--model M]
    .venv/bin/python bench/run.py cost [PATH] [--conversation N] [--messages M]
    .venv/bin/python bench/run.py chat [PATH] [--conversation N] [--questions Q] [--turns T]
    .venv/bin/python bench/run.py fake-model [--port 8199]

The commands live in bench/honcho_bench/ (the recording fake models too), outside the installed package.
"""

from honcho_bench.cli import bench_app  # bench/ is on the path: it holds this script

if __name__ == "__main__":
    bench_app(prog_name="bench/run.py")
