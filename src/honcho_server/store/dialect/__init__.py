"""Per-database strategies: the only place that knows SQLite from PostgreSQL."""

from honcho_server.store.dialect.base import MAX_K, VECTOR_TABLE, Dialect, VectorScope, VectorsUnavailable


def dialect_for(name: str) -> Dialect:
    """The strategy for a SQLAlchemy dialect name."""
    if name == "sqlite":
        from honcho_server.store.dialect.sqlite import SqliteDialect

        return SqliteDialect()
    if name == "postgresql":
        from honcho_server.store.dialect.postgres import PostgresDialect

        return PostgresDialect()
    raise ValueError(f"unsupported database: {name}")


__all__ = ["MAX_K", "VECTOR_TABLE", "Dialect", "VectorScope", "VectorsUnavailable", "dialect_for"]
