"""Opening PostgreSQL: one asyncpg pool per process, and the versioned migrations.

PostgreSQL's migrations are the files `NNNN_name.sql` in `storage/pg_migrations/` (numbered from
0001 without gaps, like SQLite's, but counted on their own). The applied ones are rows of
`schema_migrations`. Every process applies what is missing at start-up inside one transaction
that first takes an advisory lock: when several processes start together, one migrates and the
others wait, then find nothing left to do. A failure rolls everything back (PostgreSQL's DDL is
transactional), leaving the database exactly as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from .database import (
    load_migrations,
    log_migrated,
    migration_failed,
    pending_migrations,
)

log = logging.getLogger(__name__)

PG_MIGRATIONS_DIR = Path(__file__).resolve().parent / "pg_migrations"

# pg_advisory_xact_lock keys of this application (any fixed numbers, the same in every process).
MIGRATION_LOCK = 0x4B4C4E47_0001

_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """This process's pool, on a database migrated to the latest version."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, command_timeout=60)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException:
        await pool.close()
        raise
    return pool


async def schema_version(conn: asyncpg.Connection) -> int:
    """The number of the last migration applied (0 for an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: asyncpg.Connection, directory: Path = PG_MIGRATIONS_DIR) -> int:
    """Apply the migrations the database lacks, in one transaction; return the version.

    Re-running is a no-op; running it from several processes at once applies each migration
    once. On any failure everything is rolled back and MigrationError says which one failed."""
    migrations = load_migrations(directory)
    latest = len(migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(_SCHEMA_MIGRATIONS)
        current = await schema_version(conn)
        pending = pending_migrations(migrations, current)
        for migration in pending:
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise migration_failed(migration, exc, current) from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    log_migrated("PostgreSQL database", current, pending)
    return latest
