"""The v1 API (issue 17, docs/v1-api.md): Honcho's first API served on the same memory as v3."""

from __future__ import annotations

from fastapi import APIRouter

from honcho_server.api.routes.v1 import apps, chat, keys, messages, sessions, users

# Order matters where v1 paths overlap: each router declares its by-name routes before its by-id ones.
ROUTERS: list[APIRouter] = [apps.router, users.router, sessions.router, messages.router, chat.router,
                             keys.router]
