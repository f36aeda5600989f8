"""LLM providers behind one small interface (pydantic-ai underneath), with every call accounted for."""
