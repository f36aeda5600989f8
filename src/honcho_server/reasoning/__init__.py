"""Reasoning over stored messages with an LLM (deriver, summaries, peer cards, dreams, dialectic)."""
