"""Default-deny wiring: every route of the app carries an access Policy, and none can be added without one."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, routing

from honcho_server.api.app import create_app
from honcho_server.api.policy import Policy, PolicyRoute, policy
from honcho_server.services.deps import Deps

FRAMEWORK_ROUTES = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/docs-assets",  # api/docs.py
                    "/ui"}  # api/ui.py: the explorer's static files (no data; it calls the routes checked here)
# api/mcp_route.py: the MCP SDK answers the whole exchange, so it authenticates itself (tested in tests/mcp).
SELF_AUTHENTICATING = {"/mcp"}


def _routes(deps: Deps) -> list[tuple[str, set[str], Any]]:
    """(full path, methods, route object) of every route; included routers are flattened (newer FastAPI
    versions keep them as lazy `_IncludedRouter` entries in `app.routes`)."""
    app = create_app(deps.settings, deps=deps)
    flatten = getattr(routing, "iter_route_contexts", None)
    if flatten is None:
        found = [(r.path, getattr(r, "methods", set()), r) for r in app.routes]
    else:
        found = [(c.path, c.methods or set(), c.original_route) for c in flatten(app.routes)]
    return [(path, methods, route) for path, methods, route in found
            if path not in FRAMEWORK_ROUTES | SELF_AUTHENTICATING]


def test_every_route_has_a_policy(deps: Deps) -> None:
    routes = _routes(deps)
    assert len(routes) > 20
    for path, _, route in routes:
        assert isinstance(route, PolicyRoute), path
        assert isinstance(route.policy, Policy), path


def test_expected_policies(deps: Deps) -> None:
    rules = {(method, path): route.policy for path, methods, route in _routes(deps) for method in methods}
    assert rules[("POST", "/v3/workspaces/list")].admin_only
    assert rules[("POST", "/v3/keys")].admin_only
    assert rules[("GET", "/health")].public
    for path in (
        "/v3/workspaces",
        "/v3/workspaces/{workspace_id}/peers",
        "/v3/workspaces/{workspace_id}/sessions",
    ):
        assert rules[("POST", path)].self_check, path
    messages = "/v3/workspaces/{workspace_id}/sessions/{session_id}/messages"
    assert rules[("POST", messages + "/list")].member_read
    assert not rules[("POST", messages)].member_read
    assert rules[("POST", messages)].session == "session_id"
    assert rules[("PUT", "/v3/workspaces/{workspace_id}/peers/{peer_id}")].peer == "peer_id"
    public = [key for key, rule in rules.items() if rule.public]
    assert public == [("GET", "/health"), ("GET", "/ready")]  # spec 10.D: no auth
    # /metrics: public or an admin key, as `server.metrics` says (off, the default: 404 for everyone).
    assert rules[("GET", "/metrics")].admin_only and rules[("GET", "/metrics")].public_when is not None


def test_policy_route_refuses_an_endpoint_without_policy() -> None:
    router = APIRouter(route_class=PolicyRoute)

    async def unguarded() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="no access policy"):
        router.add_api_route("/unguarded", unguarded, methods=["GET"])

    @policy(workspace=None, admin_only=True)
    async def guarded() -> dict:
        return {}

    router.add_api_route("/guarded", guarded, methods=["GET"])
    assert router.routes[-1].policy == Policy(workspace=None, admin_only=True)
