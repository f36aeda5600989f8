"""Background reasoning over messages with an LLM: summaries, conclusions, peer cards, dreams."""
