"""What every tool module needs: the services' dependencies, the caller's principal and the access check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from honcho_server.domain.credentials import Principal
from honcho_server.mcp.caller import Resolver
from honcho_server.services import access
from honcho_server.services.deps import Deps


@dataclass(frozen=True)
class Kit:
    deps: Deps
    caller: Resolver

    async def reach(self, ctx: Context[Any, Any], *, workspace: str | None, peer: str | None = None,
                    session: str | None = None, member_read: bool = False, admin_only: bool = False) -> Principal:
        """The caller, once its key may touch these ids (the rule HTTP routes apply: services/access.py)."""
        principal = self.caller(ctx)
        await access.check_reach(self.deps, principal, workspace=workspace, peer=peer, session=session,
                                 member_read=member_read, admin_only=admin_only)
        return principal

    def claims(self, ctx: Context[Any, Any], *, workspace: str, peer: str | None = None,
               session: str | None = None) -> Principal:
        """The caller, once its key's claims match what it creates (the self-authorising rule of HTTP)."""
        principal = self.caller(ctx)
        access.require_claims(principal, workspace=workspace, peer=peer, session=session)
        return principal
