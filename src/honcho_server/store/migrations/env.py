"""Alembic environment: runs migrations on the async engine of whichever database the URL names."""

import asyncio

from alembic import context
from sqlalchemy import Connection

from honcho_server.store.engine import Database
from honcho_server.store.migrate import include_object
from honcho_server.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    from honcho_server.config import DatabaseSettings

    url = config.get_main_option("sqlalchemy.url")
    if not url:  # set by store/migrate.py's alembic_config(); alembic's own CLI is not how migrations run
        raise RuntimeError("no sqlalchemy.url in the Alembic config: run migrations with `honcho-server migrate`")
    database = Database(url, DatabaseSettings(pool_size=1))
    async with database.engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await database.dispose()


asyncio.run(_main())
