"""Default-deny authorization: every route declares a Policy, checked before its body is even parsed.

A route without a policy cannot be registered (PolicyRoute refuses it at start-up), so forgetting to
think about access is a crash in development, never an open endpoint in production.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from honcho_server.api.statuses import documented_errors
from honcho_server.config import Settings
from honcho_server.domain.credentials import (
    CredentialError,
    Principal,
    parse_authorization_header,
    verify_key,
)
from honcho_server.errors import Unauthorized
from honcho_server.services import access
from honcho_server.services.deps import Deps

F = TypeVar("F", bound=Callable[..., Any])
NOT_PERMITTED = access.NOT_PERMITTED
require_claims = access.require_claims  # the routes' name for it


@dataclass(frozen=True)
class Policy:
    """Which path parameters identify the resource, and who may touch it."""

    workspace: str | None = "workspace_id"
    peer: str | None = None
    session: str | None = None
    admin_only: bool = False
    member_read: bool = False  # a peer token of an active session member may read
    self_check: bool = False  # the handler compares the claims with the body
    public: bool = False
    # Public when this returns True for the settings, else the rule above applies (/metrics: `server.metrics`).
    public_when: Callable[[Settings], bool] | None = None


def policy(**kwargs: Any) -> Callable[[F], F]:
    """Attach a Policy to a route function."""

    def mark(fn: F) -> F:
        vars(fn)["__honcho_policy__"] = Policy(**kwargs)  # a function attribute, read back by PolicyRoute
        return fn

    return mark


def principal_of(request: Request) -> Principal:
    return request.state.principal


def authenticate(request: Request, deps: Deps) -> Principal:
    """The caller's principal (anonymous admin with auth off); Unauthorized for a missing or bad key."""
    if not deps.settings.auth.enabled:
        return Principal.anonymous_admin()
    jwt_secret = deps.settings.auth.jwt_secret
    if jwt_secret is None:  # AuthSettings refuses auth.enabled without a secret; this only narrows the type
        raise RuntimeError("auth is enabled without auth.jwt_secret")
    secret = jwt_secret.get_secret_value()
    try:
        token = parse_authorization_header(request.headers.get("authorization"))
        return verify_key(secret, token, now=deps.now())
    except CredentialError as exc:
        raise Unauthorized(exc.message) from exc


async def authorize(request: Request, rule: Policy, deps: Deps) -> Principal | None:
    """The route algorithm of spec 13.2; raises Unauthorized (401) on any refusal.

    Public routes (health, and /metrics unless `server.metrics` is token) need no credentials and inspect none:
    their principal is None."""
    if rule.public or (rule.public_when is not None and rule.public_when(deps.settings)):
        return None
    principal = authenticate(request, deps)
    if principal.admin or (rule.self_check and not rule.admin_only):
        return principal
    params = request.path_params
    await access.check_reach(
        deps, principal, workspace=params.get(rule.workspace) if rule.workspace else None,
        peer=params.get(rule.peer) if rule.peer else None, session=params.get(rule.session) if rule.session else None,
        admin_only=rule.admin_only, member_read=rule.member_read)
    return principal


class PolicyRoute(APIRoute):
    """An APIRoute that refuses to exist without a Policy and enforces it before anything else runs."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        rule = getattr(endpoint, "__honcho_policy__", None)
        if rule is None:
            raise RuntimeError(f"route {path} ({endpoint.__name__}) has no access policy")
        self.policy: Policy = rule
        # The error statuses the OpenAPI document lists, derived from the policy and the route (api/statuses.py).
        kwargs["responses"] = documented_errors(rule, path, endpoint, kwargs.get("responses"))
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()
        rule = self.policy

        async def handler(request: Request) -> Response:
            request.state.principal = await authorize(request, rule, request.app.state.deps)
            return await inner(request)

        return handler


def require_scope_key(principal: Principal) -> None:
    """A `scope` parameter: only workspace and admin keys may name one (401 otherwise, spec 13.2)."""
    if principal.kind not in ("admin", "workspace"):
        raise Unauthorized("`scope` requires a workspace- or admin-level key")
