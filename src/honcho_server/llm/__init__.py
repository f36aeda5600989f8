"""LLM providers behind one small interface."""
