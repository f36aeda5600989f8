"""Prometheus counters of LLM use, exposed at /metrics (per process: each `serve` process counts its own)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from honcho_server.llm.base import LLMCall

CALLS = Counter("honcho_llm_calls_total", "LLM runs", ["task", "provider", "model", "outcome"])
TOKENS = Counter("honcho_llm_tokens_total", "LLM tokens", ["task", "provider", "model", "direction"])
COST = Counter("honcho_llm_cost_usd_total", "Estimated LLM cost in USD (priced calls only)",
               ["task", "provider", "model"])
LATENCY = Histogram("honcho_llm_latency_seconds", "LLM run latency, retries included", ["task", "provider", "model"],
                    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300))


def observe(call: LLMCall) -> None:
    labels = (call.task, call.provider, call.model)
    CALLS.labels(*labels, "ok" if call.ok else "error").inc()
    TOKENS.labels(*labels, "input").inc(call.input_tokens)
    TOKENS.labels(*labels, "output").inc(call.output_tokens)
    if call.cost_usd is not None:
        COST.labels(*labels).inc(call.cost_usd)
    LATENCY.labels(*labels).observe(call.latency_ms / 1000)
