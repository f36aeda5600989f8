"""Embedding providers behind one small interface."""
