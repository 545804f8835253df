"""The KeyValues port (small named values kept between runs, such as the hash of the command
tree last synced) on the `meta` table, in SQLite and in PostgreSQL.

Each task store builds one on its own connection (`store.key_values`): the same database, but
a port of its own, so nothing outside the task lifecycle needs the TaskStore.
"""

from __future__ import annotations

import asyncio

import aiosqlite
import asyncpg

_GET_SQLITE = "SELECT value FROM meta WHERE key = ?"
_SET_SQLITE = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_ADD_SQLITE = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
_GET_PG = "SELECT value FROM meta WHERE key = $1"
_SETDEFAULT_PG = (
    "WITH added AS (INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO NOTHING RETURNING value) "
    "SELECT value FROM added UNION ALL SELECT value FROM meta WHERE key = $1"
)
_SET_PG = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class SqliteKeyValues:
    """On the task store's connection, writing under its write lock."""

    def __init__(self, conn: aiosqlite.Connection, write_lock: asyncio.Lock) -> None:
        self._conn = conn
        self._lock = write_lock

    async def get(self, key: str) -> str | None:
        rows = list(await self._conn.execute_fetchall(_GET_SQLITE, (key,)))
        return None if not rows else str(rows[0][0])

    async def set(self, key: str, value: str) -> None:
        async with self._lock:
            await self._conn.execute(_SET_SQLITE, (key, value))

    async def setdefault(self, key: str, value: str) -> str:
        async with self._lock:
            await self._conn.execute(_ADD_SQLITE, (key, value))
        stored = await self.get(key)
        assert stored is not None  # meta rows are never deleted
        return stored


class PostgresKeyValues:
    """On the task store's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, key: str) -> str | None:
        value = await self._pool.fetchval(_GET_PG, key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        await self._pool.execute(_SET_PG, key, value)

    async def setdefault(self, key: str, value: str) -> str:
        stored = await self._pool.fetchval(_SETDEFAULT_PG, key, value)
        if stored is None:  # another process inserted it after this statement's snapshot
            stored = await self.get(key)
        assert stored is not None  # meta rows are never deleted
        return str(stored)
