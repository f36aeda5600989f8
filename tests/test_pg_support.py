"""Proves tests/pg_support.py works: server start, per-test databases, pgvector."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_support

sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("asyncpg")
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402


def _async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _vector_roundtrip(url: str, marker: str) -> dict:
    engine = create_async_engine(_async_url(url))
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("select 1"))).scalar() == 1
            await conn.execute(text("create extension if not exists vector"))
            await conn.execute(
                text("create table items (id serial primary key, name text, embedding vector(3))")
            )
            await conn.execute(
                text(
                    "insert into items (name, embedding) values "
                    "(:m || '-x', '[1,0,0]'), (:m || '-y', '[0,1,0]'), (:m || '-xy', '[1,1,0]')"
                ),
                {"m": marker},
            )
            rows = (
                await conn.execute(
                    text(
                        "select name, embedding <=> CAST(:q AS vector) as d "
                        "from items order by embedding <=> CAST(:q AS vector) limit 2"
                    ),
                    {"q": "[1,0.1,0]"},
                )
            ).all()
            db = (await conn.execute(text("select current_database()"))).scalar()
            version = (await conn.execute(text("show server_version"))).scalar()
            ext = (
                await conn.execute(text("select extversion from pg_extension where extname='vector'"))
            ).scalar()
            names = (await conn.execute(text("select name from items order by id"))).scalars().all()
        return {"rows": rows, "db": db, "version": version, "ext": ext, "names": names}
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def admin_url() -> str:
    return pg_support.start_postgres()


def test_url_form(admin_url: str) -> None:
    assert admin_url.startswith("postgresql://")
    if not os.environ.get(pg_support.ENV_VAR):
        assert admin_url.startswith("postgresql://postgres@/postgres?host=/")
    # idempotent within a process
    assert pg_support.start_postgres() == admin_url


def test_two_databases_with_vector(admin_url: str) -> None:
    url_a = pg_support.create_database(admin_url, "pgsupport_test_a")
    url_b = pg_support.create_database(admin_url, "pgsupport_test_b")
    assert url_a.startswith("postgresql://") and url_b.startswith("postgresql://")
    assert url_a != url_b

    res_a = asyncio.run(_vector_roundtrip(url_a, "a"))
    res_b = asyncio.run(_vector_roundtrip(url_b, "b"))

    for res, name, marker in ((res_a, "pgsupport_test_a", "a"), (res_b, "pgsupport_test_b", "b")):
        assert res["db"] == name
        assert res["version"].startswith("16") or os.environ.get(pg_support.ENV_VAR)
        assert res["ext"]
        # the databases are isolated: each only sees its own rows
        assert res["names"] == [f"{marker}-x", f"{marker}-y", f"{marker}-xy"]
        (n1, d1), (n2, d2) = res["rows"]
        assert n1 == f"{marker}-x" and n2 == f"{marker}-xy"
        assert d1 < d2


def test_recreate_drops_existing(admin_url: str) -> None:
    url = pg_support.create_database(admin_url, "pgsupport_test_a")

    async def check() -> None:
        engine = create_async_engine(_async_url(url))
        try:
            async with engine.connect() as conn:
                n = (
                    await conn.execute(
                        text("select count(*) from information_schema.tables where table_name='items'")
                    )
                ).scalar()
                assert n == 0
        finally:
            await engine.dispose()

    asyncio.run(check())


@pytest.mark.asyncio
async def test_create_database_inside_running_loop(admin_url: str) -> None:
    # conftest may call create_database from an async fixture
    url = pg_support.create_database(admin_url, "pgsupport_test_c")
    res = await _vector_roundtrip(url, "c")
    assert res["db"] == "pgsupport_test_c"


def test_invalid_name_rejected(admin_url: str) -> None:
    with pytest.raises(ValueError):
        pg_support.create_database(admin_url, 'bad"; drop')
