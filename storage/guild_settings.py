"""The GuildSettingsStore port in SQLite: one row per value a server set (/settings).

Mixed into SqliteTaskStore, so it shares its connection and its write lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite

from storage.rows import setting_from_row
from videojobs.policy import SettingRecord

_SELECT = (
    "SELECT key, value, changed_by, changed_at FROM guild_settings WHERE guild_id = ? ORDER BY key"
)
_UPSERT = (
    "INSERT INTO guild_settings (guild_id, key, value, changed_by, changed_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, key) DO UPDATE SET "
    "value = excluded.value, changed_by = excluded.changed_by, changed_at = excluded.changed_at"
)
_DELETE_ONE = "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?"
_DELETE_ALL = "DELETE FROM guild_settings WHERE guild_id = ?"


class GuildSettingsSql:
    """Needs `_conn`, `_transaction()` and `_write()` from the class it is mixed into."""

    _conn: aiosqlite.Connection

    def _transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        raise NotImplementedError

    async def _write(self, sql: str, params: Any) -> int:
        raise NotImplementedError

    async def guild_settings(self, guild_id: int) -> list[SettingRecord]:
        """Every value the server set, by key."""
        rows = await self._conn.execute_fetchall(_SELECT, (guild_id,))
        return [setting_from_row(row) for row in rows]

    async def change_guild_settings(
        self, guild_id: int, values: Mapping[str, str | None], *, changed_by: int, at: float
    ) -> None:
        """Set (JSON text) or remove (None) several values at once, in one transaction."""
        async with self._transaction() as conn:
            for key, value in values.items():
                if value is None:
                    await conn.execute(_DELETE_ONE, (guild_id, key))
                else:
                    await conn.execute(_UPSERT, (guild_id, key, value, changed_by, at))

    async def reset_guild_settings(self, guild_id: int) -> int:
        """Remove every value of the server; returns how many there were."""
        return await self._write(_DELETE_ALL, (guild_id,))
