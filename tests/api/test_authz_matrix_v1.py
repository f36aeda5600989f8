"""The authorization matrix of the v1 routes (docs/v1-api.md §3.9): test_authz_matrix.py's probes, rules and
worlds, over every `/v1/` operation of `/openapi.json`. In a file of its own so that pytest-xdist runs it beside the
v3 half (a file goes to one worker)."""

from __future__ import annotations

from test_authz_matrix import Matrix, matrix, probe_operations

__all__ = ["matrix"]  # the fixture, shared with the v3 half


async def test_the_v1_authorization_matrix(matrix: Matrix) -> None:
    assert await probe_operations(matrix, lambda path: path.startswith("/v1/")) > 500
