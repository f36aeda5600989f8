"""Hybrid retrieval: full text and vectors, fused."""
