"""Storage: tables, migrations, repositories and the per-database dialect strategies."""
