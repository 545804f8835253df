"""Opening the SQLite file: folder, PRAGMAs and versioned migrations.

Migrations are the files `NNNN_name.sql` in `storage/migrations/`, numbered from 0001 without
gaps. Statements both engines accept as they are (indexes, mostly) are written once, in a file
of the same name in `storage/shared_migrations/`, appended to each engine's migration of that
number. The database's version is `PRAGMA user_version`; at start-up every migration above it is
applied, all in one transaction together with the new version, so a failure leaves the database
exactly as it was. A migration must not contain BEGIN, COMMIT or PRAGMA foreign_keys.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SHARED_MIGRATIONS_DIR = Path(__file__).resolve().parent / "shared_migrations"

_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


class MigrationError(RuntimeError):
    """The migrations could not be read or applied; the database was left unchanged."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


async def open_database(path: str | Path) -> aiosqlite.Connection:
    """Open (and create) the database at `path`, ready to use and migrated to the latest version.

    The connection is in autocommit mode: a statement outside BEGIN ... COMMIT is committed
    when it returns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        conn.row_factory = aiosqlite.Row
        await migrate(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


def pending_migrations(migrations: list[Migration], current: int) -> list[Migration]:
    """The migrations above version `current`. Raises MigrationError when the database is
    newer than this code (both backends)."""
    latest = len(migrations)
    if current > latest:
        raise MigrationError(
            f"the database is at version {current}, newer than this code knows ({latest}); "
            "use a newer version of the bot"
        )
    return migrations[current:]


def migration_failed(migration: Migration, exc: Exception, current: int) -> MigrationError:
    return MigrationError(
        f"migration {migration.name} failed: {exc}; the database was left at version {current}"
    )


def log_migrated(what: str, current: int, pending: list[Migration]) -> None:
    if pending:
        names = ", ".join(m.name for m in pending)
        log.info(
            "%s migrated from version %d to %d (%s)", what, current, pending[-1].version, names
        )


def load_migrations(
    directory: Path = MIGRATIONS_DIR, shared: Path = SHARED_MIGRATIONS_DIR
) -> list[Migration]:
    """The migrations in `directory`, in order, each followed by its shared statements (the
    file of the same name in `shared`, if any). Raises MigrationError on a bad name or a gap."""
    migrations: list[Migration] = []
    for file in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(file.name)
        if match is None:
            raise MigrationError(f"migration file {file.name!r} is not named NNNN_name.sql")
        sql = file.read_text(encoding="utf-8")
        if (shared / file.name).is_file():
            sql += "\n" + (shared / file.name).read_text(encoding="utf-8")
        migrations.append(Migration(int(match[1]), file.name, sql))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {migration.name} should be numbered {expected:04d} "
                f"(migrations are numbered from 0001 without gaps or duplicates)"
            )
    return migrations


async def migrate(conn: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply the migrations above the database's version in one transaction; return the version.

    Re-running is a no-op. On any failure everything is rolled back and MigrationError says
    which migration failed and why.
    """
    migrations = load_migrations(directory)
    latest = len(migrations)
    # Read the version inside the write transaction, so that two processes opening the same
    # file at once apply each migration only once.
    await conn.execute("BEGIN IMMEDIATE")
    try:
        current = await _user_version(conn)
        pending = pending_migrations(migrations, current)
        for migration in pending:
            try:
                for statement in split_statements(migration.sql):
                    await conn.execute(statement)
            except sqlite3.Error as exc:
                raise migration_failed(migration, exc, current) from exc
        if pending:
            await conn.execute(f"PRAGMA user_version = {latest:d}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.rollback()
        raise
    log_migrated("database", current, pending)
    return latest


async def _user_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


def split_statements(script: str) -> list[str]:
    """Split an SQL script into single statements (quotes, comments and triggers respected)."""
    statements: list[str] = []
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            statements.append(script[start : end + 1].strip())
            start = end + 1
    rest = script[start:].strip()
    if rest:
        statements.append(rest)
    return statements
