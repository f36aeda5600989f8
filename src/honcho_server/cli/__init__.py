"""Command line: serve, worker, migrate, version."""
