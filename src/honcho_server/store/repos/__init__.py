"""Repositories: SQL for one aggregate each. They take a connection and never commit."""
