"""Which store this process uses: PostgreSQL when a URL is given (shared by several processes),
else the SQLite file (this process alone, held by a lock file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from .database import MigrationError
from .file_lock import DatabaseInUse
from .pg_store import PostgresTaskStore
from .task_store import SqliteTaskStore


class StoreUnavailable(Exception):
    """The database can't be opened. The message is one line that names the setting to fix;
    it never shows the URL (it may hold a password)."""


async def open_store(
    *, database_url: str | None, database_path: Path, lease_seconds: float
) -> SqliteTaskStore | PostgresTaskStore:
    """Open, migrate and return the store. Raises StoreUnavailable."""
    if database_url:
        try:
            return await PostgresTaskStore.open(database_url, lease_seconds=lease_seconds)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, MigrationError) as exc:
            raise StoreUnavailable(
                f"DATABASE_URL: can't open the PostgreSQL database: {exc}"
            ) from None
    try:
        return await SqliteTaskStore.open(
            database_path, exclusive=True, lease_seconds=lease_seconds
        )
    except DatabaseInUse as exc:
        raise StoreUnavailable(f"DATABASE_PATH: {exc}") from None
    except (OSError, sqlite3.Error, MigrationError) as exc:
        raise StoreUnavailable(f"DATABASE_PATH: can't open {database_path}: {exc}") from None
