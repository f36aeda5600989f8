"""The OpenAPI document lists every error status a route can answer (spec 1.5), derived from the route's access
policy and shape in one place (api/statuses.py): 401 wherever credentials are checked, 404 where a path names a
resource, 422 where there is input, 400 and 408 where a body is read, 502/503 where an LLM answers, 503 when the
database is unavailable, with the error body's schema each time."""

from __future__ import annotations

from typing import Any

from fastapi import routing

from honcho_server.api.app import create_app
from honcho_server.api.policy import PolicyRoute
from honcho_server.services.deps import Deps

CHATS = ("/v3/workspaces/{workspace_id}/peers/{peer_id}/chat", "/v3/workspaces/{workspace_id}/chat",
         "/v1/apps/{app_id}/users/{user_id}/sessions/{session_id}/chat",
         "/v1/apps/{app_id}/users/{user_id}/sessions/{session_id}/chat/stream")
UPLOAD = "/v3/workspaces/{workspace_id}/sessions/{session_id}/messages/upload"


def _document_and_routes(deps: Deps) -> tuple[dict[str, Any], dict[tuple[str, str], PolicyRoute]]:
    app = create_app(deps.settings, deps=deps)
    flatten = getattr(routing, "iter_route_contexts", None)
    pairs = ([(r.path, r) for r in app.routes] if flatten is None
             else [(c.path, c.original_route) for c in flatten(app.routes)])
    routes = {(method.lower(), path): route for path, route in pairs if isinstance(route, PolicyRoute)
              for method in route.methods}
    return app.openapi(), routes


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_route_lists_the_statuses_its_policy_and_shape_imply(deps: Deps) -> None:
    document, routes = _document_and_routes(deps)
    operations = _operations(document)
    assert len(operations) > 40
    for method, path, op in operations:
        rule = routes[(method, path)].policy
        listed = {int(code) for code in op["responses"] if code.isdigit()}
        expected = set()
        if not rule.public:
            expected.add(401)
        if "{" in path:
            expected |= {404, 422}
        if op.get("parameters"):
            expected.add(422)
        if "requestBody" in op:
            expected |= {400, 408, 422}
        assert expected <= listed, f"{method.upper()} {path} lists {sorted(listed)}, misses {sorted(expected - listed)}"
        if rule.public:
            assert 401 not in listed, f"{method.upper()} {path} needs no credentials"
        for code in listed - {200, 201, 202, 204}:
            content = op["responses"][str(code)].get("content", {})
            if (method, path, code) == ("get", "/metrics", 404):  # spec 10.D: the text "Metrics are disabled"
                assert "text/plain" in content, content
                continue
            assert "application/json" in content and content["application/json"]["schema"], (method, path, code)


def test_chat_routes_list_the_llm_failures(deps: Deps) -> None:
    document, _ = _document_and_routes(deps)
    for path in CHATS:
        listed = {int(code) for code in document["paths"][path]["post"]["responses"] if code.isdigit()}
        assert {400, 401, 404, 422, 502, 503} <= listed, (path, sorted(listed))
        assert "provider" in document["paths"][path]["post"]["responses"]["503"]["description"]
    # Only they call a model while the client waits; every API route lists the database's 503 (/ready's 503 is
    # "not ready", see below).
    for method, path, op in _operations(document):
        if path not in CHATS:
            assert "502" not in op["responses"], (method, path)
        if path.startswith(("/v3/", "/v1/")) and path not in CHATS:
            assert "database is unavailable" in op["responses"]["503"]["description"], (method, path)
        elif not path.startswith(("/v3/", "/v1/")) and path != "/ready":
            assert "503" not in op["responses"], (method, path)


def test_ready_lists_not_ready(deps: Deps) -> None:
    document, _ = _document_and_routes(deps)
    ready = document["paths"]["/ready"]["get"]["responses"]
    assert set(ready) == {"200", "503"} and "failing checks" in ready["503"]["description"]


def test_statuses_declared_by_a_route_are_kept(deps: Deps) -> None:
    document, _ = _document_and_routes(deps)
    upload = document["paths"][UPLOAD]["post"]["responses"]
    assert {"413", "415", "400", "401", "404", "422"} <= set(upload)
    assert "409" in document["paths"]["/v3/workspaces/{workspace_id}"]["delete"]["responses"]
    assert "405" in document["paths"]["/v3/keys"]["post"]["responses"]
    health = document["paths"]["/health"]["get"]["responses"]
    assert set(health) == {"200"}
