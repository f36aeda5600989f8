"""What LLM endpoints were seen to support: one row per provider|base_url|model."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.domain.llm import Capabilities
from honcho_server.store.dialect import Dialect
from honcho_server.store.tables import llm_capabilities as t


async def get(conn: AsyncConnection, endpoint: str) -> Capabilities | None:
    found = (await conn.execute(select(t.c.capabilities).where(t.c.endpoint == endpoint))).scalar_one_or_none()
    return Capabilities.from_dict(found) if isinstance(found, dict) else None


async def put(conn: AsyncConnection, dialect: Dialect, endpoint: str, provider: str, base_url: str | None,
              model: str, capabilities: Capabilities, now: datetime) -> None:
    values = capabilities.as_dict()
    stmt = dialect.insert(t).values(endpoint=endpoint, provider=provider, base_url=base_url, model=model,
                                    capabilities=values, updated_at=now)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["endpoint"],
                                                  set_={"capabilities": values, "updated_at": now}))


async def get_many(conn: AsyncConnection, endpoints: list[str]) -> dict[str, Capabilities]:
    """What is stored of these endpoints (one SELECT), by endpoint; those never stored are missing."""
    if not endpoints:
        return {}
    rows = await conn.execute(select(t.c.endpoint, t.c.capabilities).where(t.c.endpoint.in_(endpoints)))
    return {row.endpoint: Capabilities.from_dict(row.capabilities) for row in rows
            if isinstance(row.capabilities, dict)}
